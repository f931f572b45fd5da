"""The events list: what happened to the caller's objects (the outbox, ``tongka.events``)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Response
from sqlalchemy import select

from tongka.events.models import Event
from tongka.events.service import EVENT_TYPE_PATTERN
from tongka.policy import Action, scope_of
from tongka.web.console import Console, console_router
from tongka.web.pages.listing import Allowed, render_list

router = console_router()


@router.get("/events")
async def events_page(console: Annotated[Console, Allowed(Action.EVENT_READ)]) -> Response:
    """Newest first; ``?type=card.frozen`` narrows the list to one event type."""
    statement = select(Event)
    scope = scope_of(console.signed_in).merchant()
    if scope is not None:
        statement = statement.where(Event.merchant_id == scope)
    event_type = console.request.query_params.get("type", "").strip()
    error = None
    if event_type and not re.fullmatch(EVENT_TYPE_PATTERN, event_type):
        error, event_type = console.gettext("An event type looks like card.frozen"), ""
    if event_type:
        statement = statement.where(Event.type == event_type)
    return await render_list(
        console, "events.html", "events", statement, Event, event_type=event_type, error=error
    )
