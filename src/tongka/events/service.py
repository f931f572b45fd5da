"""Recording events inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.base import UTCDateTime
from tongka.db.statements import DriverStatement, execute_count
from tongka.events.models import Event
from tongka.ids import new_id
from tongka.webhooks.fanout import enqueue_deliveries

# Event types are dotted lower-case words: ``card.frozen``, ``redemption.captured``.
EVENT_TYPE_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"

_COLUMNS = ("id", "type", "object_type", "object_id", "merchant_id", "actor", "data", "created_at")
# A paid top-up records five events: one hand-written INSERT each, compiled once, instead
# of an ORM object and a flush of its own (bench/RESULTS.md, "Sales over HTTP").
INSERT_EVENT = DriverStatement(
    text(
        f"INSERT INTO events ({', '.join(_COLUMNS)})"
        f" VALUES ({', '.join(':' + column for column in _COLUMNS)})"
    ).bindparams(bindparam("data", type_=JSON()), bindparam("created_at", type_=UTCDateTime()))
)


async def record_event(
    session: AsyncSession,
    *,
    type: str,
    object_type: str,
    object_id: str,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append an event (dotted, stable ``type`` such as ``card.frozen``) to the outbox.

    It commits or rolls back with the change it describes, so no event is sent for a change
    that did not happen, and no change goes unannounced. The webhook deliveries the event
    owes the merchant's endpoints are added in the same transaction. ``data`` must be
    JSON-serialisable and must never hold a secret or a full card number.

    What the caller added to the session is flushed first (as it always was: callers count
    on it). The event row is written by one hand-written statement; the ``Event`` answered
    is not in the session (its ``sequence`` is the database's: read the row for it).
    """
    event = Event(
        id=new_id("evt"),
        type=type,
        object_type=object_type,
        object_id=object_id,
        merchant_id=merchant_id,
        actor=actor,
        data=data or {},
        created_at=now,
    )
    await session.flush()
    await execute_count(
        session,
        INSERT_EVENT,
        {
            "id": event.id,
            "type": type,
            "object_type": object_type,
            "object_id": object_id,
            "merchant_id": merchant_id,
            "actor": actor,
            "data": event.data,
            "created_at": now,
        },
    )
    await enqueue_deliveries(session, event)
    return event
