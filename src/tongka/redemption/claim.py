"""The (merchant, idempotency key) claim an original and its reversal meet at.

Whichever arrives first inserts the row (``INSERT ... ON CONFLICT DO NOTHING``); a second
arrival waits for the first's transaction on the unique key (PostgreSQL; SQLite has one
writer) and then reads, under a row lock, what the first did. So a redemption and its
reversal, or two duplicates, can never both act as if first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.statements import DriverStatement, execute_count
from tongka.ids import new_id
from tongka.redemption.models import RedemptionKey

CLAIM = DriverStatement(
    text(
        "INSERT INTO redemption_keys"
        " (merchant_id, key, purchase_id, is_reversed, created_at, reversed_at)"
        " VALUES (:merchant_id, :key, :purchase_id, :is_reversed, :created_at, :reversed_at)"
        " ON CONFLICT DO NOTHING"
    )
)


@dataclass(frozen=True)
class ClaimedKey:
    key: str
    purchase_id: str | None
    is_reversed: bool


@dataclass(frozen=True)
class Claim:
    """``existing`` is None when this call claimed the key (with ``purchase_id``); ``row``
    is the locked row another arrival had inserted (None when this call inserted it)."""

    purchase_id: str
    existing: ClaimedKey | None
    row: RedemptionKey | None


async def claim_key(
    session: AsyncSession,
    merchant_id: str,
    key: str,
    *,
    now: datetime,
    reversal: bool = False,
) -> Claim:
    """Claim ``key`` for an original (a new purchase id) or, ``reversal=True``, for a
    reversal that came first (no purchase: a tombstone a late original is declined by)."""
    purchase_id = new_id("pur")
    values = {
        "merchant_id": merchant_id,
        "key": key,
        "purchase_id": None if reversal else purchase_id,
        "is_reversed": reversal,
        "created_at": now,
        "reversed_at": now if reversal else None,
    }
    if session.get_bind().dialect.name == "postgresql":
        # compiled once (the ORM's ``insert ... on_conflict_do_nothing`` was compiled anew
        # on every call: not in SQLAlchemy's statement cache)
        inserted = bool(await execute_count(session, CLAIM, values))
    else:
        result = await session.execute(
            sqlite.insert(RedemptionKey).values(**values).on_conflict_do_nothing()
        )
        inserted = bool(result.rowcount)  # type: ignore[attr-defined]
    if inserted:  # ours, locked by the insert itself: nothing to read back
        return Claim(purchase_id=purchase_id, existing=None, row=None)
    row = await session.scalar(
        select(RedemptionKey)
        .where(RedemptionKey.merchant_id == merchant_id, RedemptionKey.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    existing = ClaimedKey(key=key, purchase_id=row.purchase_id, is_reversed=row.is_reversed)
    return Claim(purchase_id=row.purchase_id or purchase_id, existing=existing, row=row)
