"""Stores (门店) and terminals (终端): a merchant's places and POS devices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import InvalidRequest
from tongka.identity.common import flush_unique, get_object, identity_event, require_active_merchant
from tongka.identity.errors import (
    AlreadyExists,
    ObjectNotFound,
)
from tongka.identity.models import (
    Store,
    Terminal,
)
from tongka.ids import new_id

log = structlog.get_logger(__name__)


COORDINATE_PLACES = Decimal("0.000001")  # six decimal places of a degree: about 0.1 m


def _coordinate(value: Decimal | None, limit: int, param: str) -> Decimal | None:
    """The coordinate as stored (six places), or a clear error when out of range."""
    if value is None:
        return None
    if not -limit <= value <= limit:
        raise InvalidRequest(
            f"{param} must be between -{limit} and {limit}.",
            code="coordinate_out_of_range",
            param=param,
            details={"limit": limit},
        )
    return value.quantize(COORDINATE_PLACES)


async def create_store(
    session: AsyncSession,
    *,
    merchant_id: str,
    name: str,
    address: str,
    city: str,
    actor: str,
    now: datetime,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> Store:
    await require_active_merchant(session, merchant_id)
    latitude = _coordinate(latitude, 90, "latitude")
    longitude = _coordinate(longitude, 180, "longitude")
    store = Store(
        id=new_id("sto"),
        merchant_id=merchant_id,
        name=name,
        address=address,
        city=city,
        latitude=latitude,
        longitude=longitude,
        status="active",
        created_at=now,
    )
    session.add(store)
    await session.flush()
    await identity_event(
        session,
        "store.created",
        store,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"name": name, "city": city},
    )
    return store


async def get_store(session: AsyncSession, store_id: str, *, merchant_id: str | None) -> Store:
    """The store; with ``merchant_id`` it must belong to that merchant (else not found)."""
    store: Store = await get_object(session, Store, store_id, "store")
    if merchant_id is not None and store.merchant_id != merchant_id:
        raise ObjectNotFound("No such store.", details={"object": "store"})
    return store


def stores_query(merchant_id: str | None, store_id: str | None = None) -> Select[Any]:
    """Stores of ``merchant_id`` (None: all); ``store_id`` narrows to one (store-bound callers)."""
    statement = select(Store)
    if merchant_id is not None:
        statement = statement.where(Store.merchant_id == merchant_id)
    if store_id is not None:
        statement = statement.where(Store.id == store_id)
    return statement


async def create_terminal(
    session: AsyncSession,
    *,
    merchant_id: str,
    store_id: str,
    device_id: str,
    actor: str,
    now: datetime,
    name: str | None = None,
) -> Terminal:
    await require_active_merchant(session, merchant_id)
    await get_store(session, store_id, merchant_id=merchant_id)
    duplicate = await session.scalar(
        select(Terminal.id).where(
            Terminal.merchant_id == merchant_id, Terminal.device_id == device_id
        )
    )
    if duplicate is not None:
        raise AlreadyExists(
            "This merchant already has a terminal with this device id.",
            details={"object": "terminal"},
            param="device_id",
        )
    terminal = Terminal(
        id=new_id("trm"),
        merchant_id=merchant_id,
        store_id=store_id,
        device_id=device_id,
        name=name,
        status="active",
        created_at=now,
    )
    session.add(terminal)
    await flush_unique(session, "terminal", "device_id")
    await identity_event(
        session,
        "terminal.created",
        terminal,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"store_id": store_id, "device_id": device_id},
    )
    return terminal


async def get_terminal(session: AsyncSession, terminal_id: str) -> Terminal:
    terminal: Terminal = await get_object(session, Terminal, terminal_id, "terminal")
    return terminal


def terminals_query(merchant_id: str | None, store_id: str | None = None) -> Select[Any]:
    statement = select(Terminal)
    if merchant_id is not None:
        statement = statement.where(Terminal.merchant_id == merchant_id)
    if store_id is not None:
        statement = statement.where(Terminal.store_id == store_id)
    return statement
