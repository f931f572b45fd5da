"""Phase two of pending transfers: post (all or less), void, and expiry by the job."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import amount_detail
from tongka.ledger.accounts import load_accounts
from tongka.ledger.balances import (
    Delta,
    add_effects,
    apply_deltas,
)
from tongka.ledger.errors import (
    PendingTransferAlreadyResolved,
    PendingTransferExpired,
    PendingTransferNotFound,
    PostAmountExceedsPending,
)
from tongka.ledger.posting import insert_transfer
from tongka.ledger.queries import transfer_from_row, transfers_table
from tongka.ledger.types import Transfer, TransferKind
from tongka.ledger.validation import (
    check_amount,
    check_transfer_id,
    idempotency_conflict,
)


async def post_pending(
    session: AsyncSession,
    *,
    transfer_id: str,
    pending_id: str,
    amount: int | None = None,
    now: datetime,
) -> Transfer:
    """Post a pending transfer, in full (``amount=None``) or for less (the rest is released).

    Raises ``PendingTransferNotFound``, ``PendingTransferAlreadyResolved`` (posted or
    voided before), ``PendingTransferExpired`` (its timeout passed) or
    ``PostAmountExceedsPending``. Replaying the same ``transfer_id`` returns the original.
    """
    return await _resolve_pending(
        session, transfer_id, pending_id, TransferKind.POST_PENDING, amount, now
    )


async def void_pending(
    session: AsyncSession, *, transfer_id: str, pending_id: str, now: datetime
) -> Transfer:
    """Release a pending transfer's reservation in full. Same errors as ``post_pending``."""
    return await _resolve_pending(
        session, transfer_id, pending_id, TransferKind.VOID_PENDING, None, now
    )


async def _pending_and_resolution(
    session: AsyncSession, pending_id: str, *, lock: bool = False
) -> tuple[Transfer | None, Transfer | None]:
    """The pending transfer and its phase two, if any.

    ``lock``: first lock the pending transfer's row, as every resolution does before it
    decides. A concurrent resolution (perhaps of this very transfer id) then has committed
    by the time we look, so a replay is never refused for a reason (expiry) that only holds
    now, after the original was posted in time.
    """
    if lock:
        await session.execute(
            select(transfers_table.c.sequence)
            .where(transfers_table.c.id == pending_id)
            .with_for_update()
        )
    rows = await session.execute(
        select(transfers_table).where(
            (transfers_table.c.id == pending_id) | (transfers_table.c.pending_id == pending_id)
        )
    )
    pending = resolution = None
    for row in rows:
        transfer = transfer_from_row(row)
        if transfer.transfer_id == pending_id:
            pending = transfer
        else:
            resolution = transfer
    return pending, resolution


def _replay_resolution(
    resolution: Transfer, transfer_id: str, kind: TransferKind, amount: int
) -> Transfer:
    """An existing resolution: the original result if this is a replay, else the error."""
    if resolution.transfer_id == transfer_id:
        if resolution.kind is kind and resolution.amount == amount:
            return resolution
        raise idempotency_conflict(transfer_id)
    if resolution.kind is TransferKind.EXPIRE_PENDING:
        raise PendingTransferExpired(
            f"pending transfer {resolution.pending_id} expired (released by transfer "
            f"{resolution.transfer_id})",
            param="pending_id",
        )
    action = "posted" if resolution.kind is TransferKind.POST_PENDING else "voided"
    raise PendingTransferAlreadyResolved(
        f"pending transfer {resolution.pending_id} was already {action} by transfer "
        f"{resolution.transfer_id}",
        param="pending_id",
        details={"resolution": action},
    )


async def _resolve_pending(
    session: AsyncSession,
    transfer_id: str,
    pending_id: str,
    kind: TransferKind,
    amount: int | None,
    now: datetime,
) -> Transfer:
    check_transfer_id(transfer_id)
    pending, resolution = await _pending_and_resolution(session, pending_id, lock=True)
    if pending is None or pending.kind is not TransferKind.PENDING:
        raise PendingTransferNotFound(f"no pending transfer {pending_id}", param="pending_id")
    if amount is None or kind is TransferKind.VOID_PENDING:
        amount = pending.amount
    check_amount(amount, transfer_id)
    if resolution is not None:
        return _replay_resolution(resolution, transfer_id, kind, amount)
    if amount > pending.amount:
        raise PostAmountExceedsPending(
            f"cannot post {amount} of pending transfer {pending_id}: it reserved only "
            f"{pending.amount}",
            param="amount",
            details={
                "amount": amount_detail(amount, pending.currency),
                "pending": amount_detail(pending.amount, pending.currency),
            },
        )
    if pending.expires_at is not None and now >= pending.expires_at:
        raise PendingTransferExpired(
            f"pending transfer {pending_id} expired at {pending.expires_at.isoformat()}",
            param="pending_id",
            details={"expires_at": pending.expires_at},
        )
    transfer = _resolution_transfer(pending, transfer_id, kind, amount, now)
    sequence = await insert_transfer(session, transfer)
    if sequence is None:  # the id is taken, or a concurrent resolution committed first
        _, resolution = await _pending_and_resolution(session, pending_id)
        if resolution is None:
            raise idempotency_conflict(transfer_id)
        return _replay_resolution(resolution, transfer_id, kind, amount)
    accounts = await load_accounts(session, [pending.debit_account_id, pending.credit_account_id])
    deltas: dict[str, Delta] = {}
    add_effects(deltas, transfer, pending.amount)
    # Phase two only posts or releases what phase one reserved: no limit can be crossed.
    await apply_deltas(session, accounts, deltas)
    return replace(transfer, sequence=sequence)


def _resolution_transfer(
    pending: Transfer, transfer_id: str, kind: TransferKind, amount: int, now: datetime
) -> Transfer:
    return Transfer(
        transfer_id=transfer_id,
        sequence=0,
        kind=kind,
        debit_account_id=pending.debit_account_id,
        credit_account_id=pending.credit_account_id,
        amount=amount,
        currency=pending.currency,
        code=pending.code,
        reference=pending.reference,
        metadata={},
        pending_id=pending.transfer_id,
        expires_at=None,
        created_at=now,
    )


async def expire_pending(session: AsyncSession, *, now: datetime, limit: int = 1000) -> int:
    """Release up to ``limit`` pending transfers whose timeout has passed; returns how many.

    Each gets an ``expire_pending`` transfer with the id ``expire-<sequence>``. Safe to run
    in several workers at once: the unique ``pending_id`` lets only one resolution in.
    """
    resolution = transfers_table.alias("resolution")
    rows = await session.execute(
        select(transfers_table)
        .where(
            transfers_table.c.kind == TransferKind.PENDING.value,
            transfers_table.c.expires_at <= now,
            ~select(resolution.c.sequence)
            .where(resolution.c.pending_id == transfers_table.c.id)
            .exists(),
        )
        .order_by(transfers_table.c.expires_at)
        .limit(limit)
    )
    pendings = [transfer_from_row(row) for row in rows]
    if not pendings:
        return 0
    accounts = await load_accounts(
        session, (a for p in pendings for a in (p.debit_account_id, p.credit_account_id))
    )
    deltas: dict[str, Delta] = {}
    expired = 0
    for pending in pendings:
        transfer = _resolution_transfer(
            pending, f"expire-{pending.sequence}", TransferKind.EXPIRE_PENDING, pending.amount, now
        )
        if await insert_transfer(session, transfer) is None:
            continue  # resolved concurrently
        add_effects(deltas, transfer, pending.amount)
        expired += 1
    await apply_deltas(session, accounts, deltas)
    return expired
