"""Turning a recorded event into deliveries, inside the transaction that records it.

Why at record time rather than by a worker scanning the outbox: the deliveries then commit
or roll back with the event itself, and no scan can miss an event whose transaction committed
out of id order. The cost is one indexed lookup of the merchant's enabled endpoints per event.
Events without a merchant (platform-internal) are not delivered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.ids import new_id
from tongka.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from tongka.events.models import Event


async def enqueue_deliveries(session: AsyncSession, event: Event) -> int:
    """Add one pending delivery per enabled endpoint of the event's merchant that wants it."""
    if event.merchant_id is None:
        return 0
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.merchant_id == event.merchant_id,
            WebhookEndpoint.status == EndpointStatus.ENABLED,
        )
    )
    wanted = [endpoint for endpoint in endpoints if endpoint.accepts(event.type)]
    for endpoint in wanted:
        session.add(
            WebhookDelivery(
                id=new_id("whd"),
                event_id=event.id,
                endpoint_id=endpoint.id,
                merchant_id=event.merchant_id,
                event_type=event.type,
                status=DeliveryStatus.PENDING,
                attempt_count=0,
                next_attempt_at=event.created_at,
                created_at=event.created_at,
            )
        )
    return len(wanted)
