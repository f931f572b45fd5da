"""Webhook endpoints and their delivery attempts (``tongka.webhooks``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Response
from sqlalchemy import Select

from tongka.edge.no_store import shows_secret
from tongka.edge.schemas import ObjectId
from tongka.edge.scoping import endpoint_owner
from tongka.policy import Action, scope_of
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import attempt_and_redirect, log_reason, required_reason, show_secret_once
from tongka.web.i18n import N_
from tongka.web.lists import (
    Column,
    Filter,
    Label,
    ListSpec,
    date_range,
    matching,
    select_filter,
    text_filter,
)
from tongka.web.names import names_of
from tongka.web.pages.listing import Allowed
from tongka.webhooks import service as webhooks
from tongka.webhooks.models import EndpointStatus, WebhookAttempt, WebhookEndpoint

router = console_router()
ROTATION_OVERLAP = timedelta(hours=24)
ENDPOINTS_URL = "/console/webhooks"


def _by_result(statement: Select[Any], value: str, console: Console) -> Select[Any]:
    return statement.where(WebhookAttempt.succeeded.is_(value == "succeeded"))


ENDPOINTS = ListSpec(
    name="webhook_endpoints",
    id_column=WebhookEndpoint.id,
    columns=[
        Column("url", N_("URL"), sort=WebhookEndpoint.url, csv=lambda row, x: row.url),
        Column("events", N_("Event type"), csv=lambda row, x: ", ".join(row.enabled_events)),
        Column(
            "status",
            N_("Status"),
            sort=WebhookEndpoint.status,
            csv=lambda row, x: Label("webhooks.status", row.status),
        ),
        Column(
            "merchant",
            N_("Merchant"),
            csv=lambda row, x: x["names"].of("merchants", row.merchant_id),
            platform_only=True,
        ),
        Column(
            "created_at",
            N_("Created"),
            sort=WebhookEndpoint.created_at,
            csv=lambda row, x: row.created_at,
        ),
        Column("actions"),
    ],
    filters=[
        text_filter(
            "q",
            N_("Search"),
            matching(WebhookEndpoint.url, WebhookEndpoint.description),
            N_("URL or description"),
        ),
        select_filter(
            "status",
            N_("Status"),
            WebhookEndpoint.status,
            [status.value for status in EndpointStatus],
            "webhooks.status",
        ),
        date_range("created", N_("Created"), WebhookEndpoint.created_at),
    ],
    extras=names_of(merchants="merchant_id"),
)
ATTEMPTS = ListSpec(
    name="webhook_attempts",
    id_column=WebhookAttempt.id,
    columns=[
        Column(
            "attempted_at",
            N_("Attempted at"),
            sort=WebhookAttempt.attempted_at,
            csv=lambda row, x: row.attempted_at,
        ),
        Column(
            "attempt_number", N_("Attempt"), csv=lambda row, x: row.attempt_number, in_page=False
        ),
        Column("event", N_("Event"), csv=lambda row, x: row.event_id),
        Column(
            "status_code",
            N_("HTTP status"),
            sort=WebhookAttempt.status_code,
            csv=lambda row, x: row.status_code,
        ),
        Column(
            "duration_ms",
            N_("Duration (ms)"),
            sort=WebhookAttempt.duration_ms,
            csv=lambda row, x: row.duration_ms,
        ),
        Column(
            "result",
            N_("Result"),
            csv=lambda row, x: Label("attempt", "succeeded" if row.succeeded else "failed"),
            in_page=False,
        ),
        Column("error", N_("Error"), csv=lambda row, x: row.error),
    ],
    filters=[
        Filter(
            "result",
            N_("Result"),
            "select",
            apply=_by_result,
            choices=("succeeded", "failed"),
            label_group="attempt",
        ),
        date_range("attempted", N_("Attempted at"), WebhookAttempt.attempted_at),
    ],
    default_sort="-attempted_at",
)


async def _endpoints_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = webhooks.endpoints_query(scope_of(console.signed_in).merchant())
    return await ENDPOINTS.render(
        console,
        statement,
        "webhooks.html",
        status_code,
        endpoint_actions=webhooks.available_actions,
        **context,
    )


@router.get("/webhooks")
@shows_secret
async def endpoints_page(console: Annotated[Console, Allowed(Action.WEBHOOK_MANAGE)]) -> Response:
    return await _endpoints_page(console)


@router.post("/webhooks")
@shows_secret
async def create_endpoint(
    console: Annotated[Console, Allowed(Action.WEBHOOK_MANAGE)], form: FormDep
) -> Response:
    """A merchant's new endpoint; its signing secret is shown on this response only."""
    principal = console.signed_in
    merchant_id = endpoint_owner(principal)
    event_types = [part for part in form_text(form, "enabled_events").split(",") if part.strip()]

    async def work() -> webhooks.EndpointWithSecret:
        return await webhooks.create_endpoint(
            console.session,
            merchant_id=merchant_id,
            url=form_text(form, "url"),
            enabled_events=event_types or ["*"],
            description=form_text(form, "description")[:200],
            actor=principal.actor,
            settings=console.settings,
            now=console.now,
        )

    return await show_secret_once(console, work, form, page=_endpoints_page, url=ENDPOINTS_URL)


@router.get("/webhooks/{endpoint_id}")
async def endpoint_page(
    endpoint_id: ObjectId, console: Annotated[Console, Allowed(Action.WEBHOOK_MANAGE)]
) -> Response:
    endpoint = await webhooks.get_endpoint(
        console.session, endpoint_id, merchant_id=scope_of(console.signed_in).merchant()
    )
    statement = webhooks.attempts_query(endpoint.id)
    return await ATTEMPTS.render(
        console,
        statement,
        "webhook.html",
        endpoint=endpoint,
        endpoint_actions=webhooks.available_actions,
    )


@router.post("/webhooks/{endpoint_id}/disable")
async def disable_endpoint(
    endpoint_id: ObjectId,
    console: Annotated[Console, Allowed(Action.WEBHOOK_MANAGE)],
    form: FormDep,
) -> Response:
    """Irreversible, with a reason (logged: the endpoint keeps none)."""
    principal = console.signed_in
    await webhooks.get_endpoint(
        console.session, endpoint_id, merchant_id=scope_of(principal).merchant()
    )  # 404 before anything else

    async def work() -> object:
        reason = required_reason(form)
        disabled = await webhooks.disable_endpoint(
            console.session,
            endpoint_id,
            merchant_id=scope_of(principal).merchant(),
            actor=principal.actor,
            now=console.now,
        )
        log_reason(console, "webhook_endpoint.disable", endpoint_id, reason)
        return disabled

    back = form_text(form, "back")
    target = back if back.startswith("/console/") else f"/console/webhooks/{endpoint_id}"
    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=target,
        success=N_("The endpoint is disabled: nothing more is delivered to it."),
    )


@router.post("/webhooks/{endpoint_id}/rotate_secret")
@shows_secret
async def rotate_secret(
    endpoint_id: ObjectId,
    console: Annotated[Console, Allowed(Action.WEBHOOK_MANAGE)],
    form: FormDep,
) -> Response:
    """A new secret, shown on this response only (so only the merchant itself may do it)."""
    principal = console.signed_in

    async def work() -> webhooks.EndpointWithSecret:
        return await webhooks.rotate_secret(
            console.session,
            endpoint_id,
            merchant_id=endpoint_owner(principal),
            previous_valid_for=ROTATION_OVERLAP,
            actor=principal.actor,
            settings=console.settings,
            now=console.now,
        )

    return await show_secret_once(console, work, form, page=_endpoints_page, url=ENDPOINTS_URL)
