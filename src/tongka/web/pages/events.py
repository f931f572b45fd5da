"""The events list: what happened to the caller's objects (the outbox, ``tongka.events``)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Response
from sqlalchemy import Select, select

from tongka.events.models import Event
from tongka.events.service import EVENT_TYPE_PATTERN
from tongka.policy import Action, scope_of
from tongka.web.console import Console, console_router
from tongka.web.i18n import N_
from tongka.web.lists import Column, ListSpec, date_range, text_filter
from tongka.web.names import names_of
from tongka.web.pages.listing import Allowed

router = console_router()


def _is_event_type(text: str) -> bool:
    return re.fullmatch(EVENT_TYPE_PATTERN, text) is not None


def _by_type(statement: Select[Any], text: str, console: Console) -> Select[Any]:
    return statement.where(Event.type == text) if _is_event_type(text) else statement


def _by_object(statement: Select[Any], text: str, console: Console) -> Select[Any]:
    return statement.where((Event.id == text) | (Event.object_id == text))


EVENTS = ListSpec(
    name="events",
    id_column=Event.id,
    columns=[
        Column(
            "created_at", N_("Created"), sort=Event.created_at, csv=lambda row, x: row.created_at
        ),
        Column("type", N_("Event type"), sort=Event.type, csv=lambda row, x: row.type),
        Column("object", N_("Object"), csv=lambda row, x: f"{row.object_type} {row.object_id}"),
        Column(
            "merchant",
            N_("Merchant"),
            csv=lambda row, x: x["names"].of("merchants", row.merchant_id),
            platform_only=True,
        ),
        Column("event", N_("Event"), csv=lambda row, x: row.id),
    ],
    filters=[
        text_filter("type", N_("Event type"), _by_type, N_("e.g. card.frozen")),
        text_filter("q", N_("Event or object id"), _by_object),
        date_range("created", N_("Created"), Event.created_at),
    ],
    extras=names_of(merchants=("merchant_id", "object_id"), cards="object_id"),
)


@router.get("/events")
async def events_page(console: Annotated[Console, Allowed(Action.EVENT_READ)]) -> Response:
    """Newest first; ``?type=card.frozen`` narrows the list to one event type."""
    statement = select(Event)
    scope = scope_of(console.signed_in).merchant()
    if scope is not None:
        statement = statement.where(Event.merchant_id == scope)
    event_type = console.request.query_params.get("type", "").strip()
    error = None
    if event_type and not _is_event_type(event_type):
        error = console.gettext("An event type looks like card.frozen")
    return await EVENTS.render(console, statement, "events.html", error=error)
