"""Recording events inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.events.models import Event
from tongka.ids import new_id
from tongka.webhooks.fanout import enqueue_deliveries

# Event types are dotted lower-case words: ``card.frozen``, ``redemption.captured``.
EVENT_TYPE_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"


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
    session.add(event)
    await session.flush()
    await enqueue_deliveries(session, event)
    return event
