"""Balance changes: deltas, the common lock order, limits tested in the database.

The one place that writes ``ledger_balances`` for single transfers, groups and phase two
(``apply_deltas``); ``batch.py`` writes a batch's changes in one statement of its own.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tongka.db.driver import DriverConnection
from tongka.db.statements import (
    AnyUnitOfWork,
    connection_of,
    execute_count,
    fetch_all,
)
from tongka.ledger import statements
from tongka.ledger.accounts import AccountInfo, forget_account
from tongka.ledger.errors import (
    AccountNotFound,
)
from tongka.ledger.types import Transfer, TransferKind

# --------------------------------------------------------------------------- balance deltas


@dataclass
class Delta:
    """A change to an account's four balance columns."""

    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    def add(self, other: Delta) -> None:
        self.debits_posted += other.debits_posted
        self.credits_posted += other.credits_posted
        self.debits_pending += other.debits_pending
        self.credits_pending += other.credits_pending

    def negated(self) -> Delta:
        return Delta(
            -self.debits_posted, -self.credits_posted, -self.debits_pending, -self.credits_pending
        )

    @property
    def raises_debits(self) -> bool:
        """Moves the account towards a "debits must not exceed credits" limit."""
        return self.debits_posted + self.debits_pending - self.credits_posted > 0

    @property
    def raises_credits(self) -> bool:
        """Moves the account towards a "credits must not exceed debits" limit."""
        return self.credits_posted + self.credits_pending - self.debits_posted > 0


def transfer_effects(
    kind: TransferKind, amount: int, pending_amount: int = 0
) -> tuple[Delta, Delta]:
    """How a transfer changes its debit and its credit account (the one source of truth,
    also used by ``verify`` to recompute balances)."""
    if kind is TransferKind.SINGLE:
        return Delta(debits_posted=amount), Delta(credits_posted=amount)
    if kind is TransferKind.PENDING:
        return Delta(debits_pending=amount), Delta(credits_pending=amount)
    if kind is TransferKind.POST_PENDING:
        return (
            Delta(debits_posted=amount, debits_pending=-pending_amount),
            Delta(credits_posted=amount, credits_pending=-pending_amount),
        )
    return Delta(debits_pending=-amount), Delta(credits_pending=-amount)


def is_limited(account: AccountInfo) -> bool:
    spec = account.spec
    return spec.debits_must_not_exceed_credits or spec.credits_must_not_exceed_debits


def lock_order(account: AccountInfo) -> tuple[bool, str]:
    """The order rows are locked in: limited accounts first, then by id."""
    return (not is_limited(account), account.account_id)


def tested_limits(account: AccountInfo, delta: Delta) -> tuple[bool, bool]:
    spec = account.spec
    return (
        spec.debits_must_not_exceed_credits and delta.raises_debits,
        spec.credits_must_not_exceed_debits and delta.raises_credits,
    )


def delta_params(account_id: str, shard: int, delta: Delta) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "shard": shard,
        "debits_posted": delta.debits_posted,
        "credits_posted": delta.credits_posted,
        "debits_pending": delta.debits_pending,
        "credits_pending": delta.credits_pending,
    }


SLOT_KEY = "tongka.ledger.shard_slot"
_slot_counter = itertools.count(random.randrange(1 << 20))


async def connection_slot(unit: AnyUnitOfWork) -> int:
    """A number fixed for the database connection this unit of work uses.

    Changes that test no limit go to shard ``slot % shard_count`` of a hot account. On
    PostgreSQL the slot is the server process id, which differs between all connections
    open at the same time (whichever API process holds them), so concurrent transactions
    land on different shard rows and do not wait for each other's row locks, as long as
    there are no more concurrent connections than shards.
    """
    if isinstance(unit, DriverConnection):
        return unit.slot
    connection = await connection_of(unit)
    slot = connection.info.get(SLOT_KEY)
    if slot is None:
        raw = await connection.get_raw_connection()
        server_pid = getattr(raw.driver_connection, "get_server_pid", None)
        slot = server_pid() if callable(server_pid) else next(_slot_counter)
        connection.info[SLOT_KEY] = slot
    return int(slot)


def free_shard(account: AccountInfo, slot: int) -> int:
    """Where an untested change goes: this connection's shard (see ``connection_slot``)."""
    return slot % account.shard_count


@dataclass(frozen=True)
class LimitBreach:
    """A limit a change would cross, and the account's summed balance the refusal was
    decided on (so the error describes that state, not one read later)."""

    account: AccountInfo
    is_debit_limit: bool
    current: Delta


def sum_shards(rows: Iterable[Any]) -> Delta:
    total = Delta()
    for row in rows:
        total.add(Delta(row[2], row[3], row[4], row[5]))
    return total


def limit_breach_of(account: AccountInfo, current: Delta, delta: Delta) -> LimitBreach | None:
    """Which limit ``delta`` would cross on an account whose summed balance is ``current``."""
    after = Delta()
    after.add(current)
    after.add(delta)
    tests_debit, tests_credit = tested_limits(account, delta)
    seen = Delta()
    seen.add(current)  # a copy: callers go on adding to theirs
    if tests_debit and after.debits_posted + after.debits_pending > after.credits_posted:
        return LimitBreach(account, is_debit_limit=True, current=seen)
    if tests_credit and after.credits_posted + after.credits_pending > after.debits_posted:
        return LimitBreach(account, is_debit_limit=False, current=seen)
    return None


async def apply_deltas(
    session: AnyUnitOfWork, accounts: dict[str, AccountInfo], deltas: dict[str, Delta]
) -> LimitBreach | None:
    """Apply each account's delta in lock order, testing limits in the database.

    Returns the first limit that would be crossed (the caller must then roll back what was
    applied: ``post_transfers`` does so with its savepoint), or None when all were applied.
    """
    slot = await connection_slot(session)
    for account in sorted((accounts[account_id] for account_id in deltas), key=lock_order):
        delta = deltas[account.account_id]
        tests = tested_limits(account, delta)
        if account.is_sharded and any(tests):
            breach = await _decide_under_lock(session, account, delta)
            if breach is not None:
                return breach
            tests, shard = (False, False), 0
        else:
            shard = free_shard(account, slot) if not any(tests) else 0
        updated = await execute_count(
            session, statements.APPLY_DELTA[tests], delta_params(account.account_id, shard, delta)
        )
        if updated == 1:
            continue
        if not any(tests):
            forget_account(session, account.account_id)
            raise AccountNotFound(f"ledger account {account.account_id} does not exist")
        # The conditional update refused, on a row version we cannot see: decide again under
        # the row's lock, so the refusal names the balance it was decided on (and a balance
        # that grew in between takes the change after all).
        breach = await _decide_under_lock(session, account, delta)
        if breach is not None:
            return breach
        await execute_count(
            session,
            statements.APPLY_DELTA[(False, False)],
            delta_params(account.account_id, 0, delta),
        )
    return None


async def _decide_under_lock(
    session: AnyUnitOfWork, account: AccountInfo, delta: Delta
) -> LimitBreach | None:
    """Lock every shard row of ``account`` (the caller holds no row later in the lock
    order) and test its limit on their sum: the breach, or None (the change may then be
    written untested, to any of the locked rows)."""
    return limit_breach_of(account, await locked_balance(session, account.account_id), delta)


async def locked_balance(session: AnyUnitOfWork, account_id: str) -> Delta:
    """The summed balance of an account, its rows locked until the transaction ends.

    No rows means the account is not there at all: the metadata cache believed in an account
    whose opening was rolled back (e.g. by a test harness); forget it and say so.
    """
    rows = await fetch_all(session, statements.LOCK_SHARDS, {"account_ids": [account_id]})
    if not rows:
        forget_account(session, account_id)
        raise AccountNotFound(f"ledger account {account_id} does not exist", param="account_id")
    return sum_shards(rows)


def add_effects(
    deltas: dict[str, Delta], transfer: Transfer, pending_amount: int = 0
) -> tuple[Delta, Delta]:
    debit, credit = transfer_effects(transfer.kind, transfer.amount, pending_amount)
    deltas.setdefault(transfer.debit_account_id, Delta()).add(debit)
    deltas.setdefault(transfer.credit_account_id, Delta()).add(credit)
    return debit, credit
