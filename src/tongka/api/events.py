"""``/v1/events``: the outbox, read back. A merchant sees its own events; the platform all."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import Select, select

from tongka.api.errors import ERROR_RESPONSES
from tongka.edge.deps import SessionDep, UnitOfWorkRoute
from tongka.edge.pagination import ListResponse, PageParamsDep, fetch_page
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ObjectId
from tongka.errors import NotFound
from tongka.events.models import Event
from tongka.events.payload import EventPayload
from tongka.events.service import EVENT_TYPE_PATTERN
from tongka.identity.principal import Principal
from tongka.policy import Action, scope_of

router = APIRouter(
    prefix="/v1", tags=["events"], responses=ERROR_RESPONSES, route_class=UnitOfWorkRoute
)


class EventOut(EventPayload):
    object: Literal["event"] = "event"
    merchant_id: str | None


def _event_out(event: Event) -> EventOut:
    return EventOut.model_validate(event)


def _visible_events(principal: Principal) -> Select[tuple[Event]]:
    statement = select(Event)
    merchant_id = scope_of(principal).merchant()
    if merchant_id is not None:
        statement = statement.where(Event.merchant_id == merchant_id)
    return statement


@router.get("/events", response_model=ListResponse[EventOut], summary="List events")
async def list_events(
    principal: Annotated[Principal, Authorized(Action.EVENT_READ)],
    session: SessionDep,
    page: PageParamsDep,
    type: Annotated[
        str | None,
        Query(
            max_length=80,
            pattern=EVENT_TYPE_PATTERN,
            description="Only events of this type (e.g. card.frozen).",
        ),
    ] = None,
) -> ListResponse[EventOut]:
    statement = _visible_events(principal)
    if type is not None:
        statement = statement.where(Event.type == type)
    return await fetch_page(session, statement, page, Event, _event_out)


@router.get("/events/{event_id}", response_model=EventOut, summary="Retrieve an event")
async def get_event(
    principal: Annotated[Principal, Authorized(Action.EVENT_READ)],
    session: SessionDep,
    event_id: ObjectId,
) -> EventOut:
    statement = _visible_events(principal).where(Event.id == event_id)
    event = (await session.scalars(statement)).one_or_none()
    if event is None:
        raise NotFound("No such event.", code="event_not_found", param="id")
    return _event_out(event)
