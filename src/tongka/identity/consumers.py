"""Consumers (card holders) and their KYC level."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.identity.common import flush_unique, get_object, identity_event
from tongka.identity.errors import (
    AlreadyExists,
)
from tongka.identity.models import (
    Consumer,
    KycLevel,
)
from tongka.identity.principal import Principal, PrincipalKind
from tongka.identity.sms import canonical_phone
from tongka.ids import new_id

log = structlog.get_logger(__name__)


async def create_consumer(
    session: AsyncSession,
    *,
    phone: str,
    actor: str,
    now: datetime,
    display_name: str | None = None,
    kyc_level: KycLevel = KycLevel.NONE,
) -> Consumer:
    phone = canonical_phone(phone)
    if await session.scalar(select(Consumer.id).where(Consumer.phone == phone)) is not None:
        raise AlreadyExists(
            "A consumer with this phone number already exists.",
            param="phone",
            details={"object": "consumer"},
        )
    consumer = Consumer(
        id=new_id("con"),
        phone=phone,
        display_name=display_name,
        kyc_level=int(kyc_level),
        created_at=now,
        updated_at=now,
    )
    session.add(consumer)
    await flush_unique(session, "consumer", "phone")
    await identity_event(
        session,
        "consumer.created",
        consumer,
        actor=actor,
        now=now,
        merchant_id=None,
        data={"kyc_level": int(kyc_level)},
    )
    return consumer


async def get_consumer(session: AsyncSession, consumer_id: str) -> Consumer:
    consumer: Consumer = await get_object(session, Consumer, consumer_id, "consumer")
    return consumer


def consumers_query() -> Select[Any]:
    return select(Consumer)


async def find_consumer_by_phone(session: AsyncSession, phone: str) -> Consumer | None:
    return await session.scalar(select(Consumer).where(Consumer.phone == canonical_phone(phone)))


def principal_for_consumer(consumer: Consumer) -> Principal:
    """A card holder: no merchant, no platform role; scoped by ``consumer_id``."""
    return Principal(
        kind=PrincipalKind.CONSUMER,
        actor=f"consumer:{consumer.id}",
        roles=frozenset({"consumer"}),
        consumer_id=consumer.id,
    )


async def set_kyc_level(
    session: AsyncSession,
    consumer_id: str,
    level: KycLevel,
    *,
    actor: str,
    now: datetime,
    verified_name: str | None = None,
) -> Consumer:
    """Record the consumer's verified KYC level (raised by verification, lowered on review)
    and, when the identity document was checked, the name on it (``verified_name``; a level
    below the identity card forgets it)."""
    consumer = await get_consumer(session, consumer_id)
    previous = consumer.kyc_level
    consumer.kyc_level = int(level)
    if level < KycLevel.ID_CARD:
        consumer.verified_name = None
    elif verified_name is not None and verified_name.strip():
        consumer.verified_name = " ".join(verified_name.split())[:100]
    consumer.updated_at = now
    await session.flush()
    await identity_event(
        session,
        "consumer.kyc_level_changed",
        consumer,
        actor=actor,
        now=now,
        merchant_id=None,
        data={"previous_kyc_level": previous, "kyc_level": int(level)},
    )
    return consumer
