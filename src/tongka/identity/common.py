"""Helpers every identity module shares: e-mail and password rules, unique flushes,
events, and the merchant look-ups every other module makes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import InvalidRequest
from tongka.events import record_event
from tongka.identity.errors import (
    AlreadyExists,
    MerchantNotActive,
    ObjectNotFound,
)
from tongka.identity.models import (
    Merchant,
    MerchantStatus,
)
from tongka.identity.passwords import MIN_PASSWORD_LENGTH

log = structlog.get_logger(__name__)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            code="password_too_short",
            param="password",
        )


async def flush_unique(session: AsyncSession, what: str, param: str) -> None:
    """Flush; a unique-constraint race becomes a clean 409 instead of a server error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise AlreadyExists(
            f"A {what} with this {param} already exists.", param=param, details={"object": what}
        ) from exc


async def get_object(session: AsyncSession, model: type[Any], object_id: str, what: str) -> Any:
    """The row, or not found; the message is the same one another tenant's object gets, so
    a 404 never tells whether an id exists."""
    found = await session.get(model, object_id)
    if found is None:
        raise ObjectNotFound(f"No such {what}.", details={"object": what})
    return found


async def identity_event(
    session: AsyncSession,
    type: str,
    obj: Any,
    *,
    actor: str,
    now: datetime,
    merchant_id: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    await record_event(
        session,
        type=type,
        object_type=type.split(".", 1)[0],
        object_id=obj.id,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data=data,
    )


async def get_merchant(session: AsyncSession, merchant_id: str) -> Merchant:
    merchant: Merchant = await get_object(session, Merchant, merchant_id, "merchant")
    return merchant


async def require_active_merchant(session: AsyncSession, merchant_id: str) -> Merchant:
    """The merchant, if it may do business now; other parts call this before acting for one."""
    merchant = await get_merchant(session, merchant_id)
    if merchant.status != MerchantStatus.ACTIVE:
        raise MerchantNotActive(
            f"Merchant {merchant_id} is {merchant.status}; only active merchants can do business.",
            param="merchant_id",
            details={"status": merchant.status},
        )
    return merchant


async def merchant_status(session: AsyncSession, merchant_id: str | None) -> str | None:
    """The merchant's status (None for platform users, who have no merchant)."""
    if merchant_id is None:
        return None
    status: str | None = await session.scalar(
        select(Merchant.status).where(Merchant.id == merchant_id)
    )
    return status


async def merchant_is_active(session: AsyncSession, merchant_id: str | None) -> bool:
    if merchant_id is None:
        return True
    return await merchant_status(session, merchant_id) == MerchantStatus.ACTIVE
