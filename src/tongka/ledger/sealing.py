"""Sealing: committed transfers go into hash-chained blocks, shortly after they commit.

Why not chain every transfer to the one before it: each posting would have to wait for the
previous posting's hash, serializing all traffic on one row. Instead postings never wait;
a sealer (the worker, every ``seal_interval_seconds``, and ``verify``) collects committed,
unsealed transfers into a new block. A block names its transfers explicitly
(``ledger_block_entries``) and its hash covers their canonical content and the previous
block's hash, so editing, deleting or slipping a transfer into a sealed block breaks the
chain.

Transfers may commit out of sequence order: sequence numbers are handed out at insert,
and a transaction that inserted a lower number can commit after one with a higher number
was already sealed. Because blocks name their transfers (rather than "everything up to
sequence N"), such a transfer is simply picked up by a later block. ``verify`` flags a
transfer that turned up much later than that (``LATE_SEAL_GRACE``): legitimate
transactions are short, so that is what a back-dated insertion looks like.

Only one sealer works at a time: on PostgreSQL it takes a transaction-scoped advisory lock
(others skip their turn); SQLite has one writer anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.ledger.accounts import dialect_of
from tongka.ledger.models import LedgerBlock, LedgerBlockEntry
from tongka.ledger.queries import transfer_from_row, transfers_table
from tongka.ledger.types import Transfer
from tongka.ledger.validation import insert_params

GENESIS_HASH = "0" * 64
SEALER_LOCK_KEY = 0x746F6E676B61  # "tongka": the advisory lock id of the sealer
MAX_TRANSFERS_PER_BLOCK = 10_000
# A routine seal only looks this far below the highest sealed sequence for late commits;
# ``verify`` does a full scan.
SEAL_LOOKBACK = 100_000
LATE_SEAL_GRACE = timedelta(minutes=5)


def _timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_transfer(transfer: Transfer) -> str:
    """The stable text a block's hash covers: every field, sorted keys, no whitespace."""
    content = insert_params(transfer) | {
        "sequence": transfer.sequence,
        "expires_at": _timestamp(transfer.expires_at),
        "created_at": _timestamp(transfer.created_at),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def block_hash(previous_hash: str, transfers: Iterable[Transfer]) -> str:
    """SHA-256 over the previous block's hash and the block's transfers in sequence order."""
    digest = hashlib.sha256(previous_hash.encode())
    for transfer in sorted(transfers, key=lambda t: t.sequence):
        digest.update(b"\n")
        digest.update(canonical_transfer(transfer).encode())
    return digest.hexdigest()


async def _take_sealer_lock(session: AsyncSession, *, wait: bool) -> bool:
    if dialect_of(session) != "postgresql":
        return True
    if wait:
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEALER_LOCK_KEY})
        return True
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SEALER_LOCK_KEY}
    )
    return bool(locked)


async def seal_pending_blocks(
    session: AsyncSession, now: datetime, *, full_scan: bool = False, wait: bool = False
) -> int:
    """Seal committed, unsealed transfers into new blocks; returns how many were sealed.

    If another sealer is at work this returns 0 at once (``wait=False``, the worker) or
    waits for it (``wait=True``, ``verify``). Postings never wait for sealing.
    """
    if not await _take_sealer_lock(session, wait=wait):
        return 0
    sealed = 0
    while True:
        count = await _seal_one_block(session, now, full_scan=full_scan)
        sealed += count
        if count < MAX_TRANSFERS_PER_BLOCK:
            return sealed


async def _seal_one_block(session: AsyncSession, now: datetime, *, full_scan: bool) -> int:
    last = (
        await session.execute(
            select(LedgerBlock.number, LedgerBlock.hash)
            .order_by(LedgerBlock.number.desc())
            .limit(1)
        )
    ).first()
    number, previous_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    floor = -(2**62)
    if not full_scan:
        highest = await session.scalar(select(func.max(LedgerBlockEntry.transfer_sequence)))
        if highest is not None:
            floor = highest - SEAL_LOOKBACK
    sealed_entry = select(LedgerBlockEntry.transfer_sequence).where(
        LedgerBlockEntry.transfer_sequence == transfers_table.c.sequence
    )
    rows = await session.execute(
        select(transfers_table)
        .where(transfers_table.c.sequence > floor, ~sealed_entry.exists())
        .order_by(transfers_table.c.sequence)
        .limit(MAX_TRANSFERS_PER_BLOCK)
    )
    transfers = [transfer_from_row(row) for row in rows]
    if not transfers:
        return 0
    await session.execute(
        insert(LedgerBlock).values(
            number=number,
            previous_hash=previous_hash,
            hash=block_hash(previous_hash, transfers),
            transfer_count=len(transfers),
            sealed_at=now,
        )
    )
    await session.execute(
        insert(LedgerBlockEntry),
        [{"block_number": number, "transfer_sequence": t.sequence} for t in transfers],
    )
    return len(transfers)
