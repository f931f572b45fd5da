"""Webhook endpoints and their delivery attempts (``tongka.webhooks``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Response

from tongka.edge.no_store import shows_secret
from tongka.edge.schemas import ObjectId
from tongka.edge.scoping import endpoint_owner
from tongka.policy import Action, scope_of
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import attempt_and_redirect, log_reason, required_reason, show_secret_once
from tongka.web.i18n import N_
from tongka.web.pages.listing import Allowed, page_of, render_list
from tongka.webhooks import service as webhooks
from tongka.webhooks.models import WebhookAttempt, WebhookEndpoint

router = console_router()
ROTATION_OVERLAP = timedelta(hours=24)
ENDPOINTS = "/console/webhooks"


async def _endpoints_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    return await render_list(
        console,
        "webhooks.html",
        "endpoints",
        webhooks.endpoints_query(scope_of(console.signed_in).merchant()),
        WebhookEndpoint,
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

    return await show_secret_once(console, work, form, page=_endpoints_page, url=ENDPOINTS)


@router.get("/webhooks/{endpoint_id}")
async def endpoint_page(
    endpoint_id: ObjectId, console: Annotated[Console, Allowed(Action.WEBHOOK_MANAGE)]
) -> Response:
    endpoint = await webhooks.get_endpoint(
        console.session, endpoint_id, merchant_id=scope_of(console.signed_in).merchant()
    )
    attempts, next_after = await page_of(
        console,
        webhooks.attempts_query(endpoint.id),
        WebhookAttempt,
        created_column=WebhookAttempt.attempted_at,
    )
    return console.render(
        "webhook.html",
        endpoint=endpoint,
        attempts=attempts,
        next_after=next_after,
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

    return await show_secret_once(console, work, form, page=_endpoints_page, url=ENDPOINTS)
