"""Posting transfers: the only code that changes a balance (ARCHITECTURE rule 2).

How a posting stays correct with many processes posting at once:

* **Idempotency in the database.** ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on the
  unique transfer id: a replay (or a concurrent duplicate, whose insert PostgreSQL makes us
  wait for) inserts nothing and returns the original transfer.
* **Limits in the same statement as the write.** A limited account is changed by one
  ``UPDATE ... WHERE <limit still holds after the change>``; zero rows updated means the
  limit would be crossed. A sharded (hot) account whose limit must be tested has all its
  shard rows locked (``FOR UPDATE``) and their sum checked instead.
* **One lock order everywhere.** Rows are locked in the order (accounts with a limit
  first, then the others; each group by account id; then shard), in ``post_transfers``,
  ``post_batch`` and the pending paths alike, so two postings never wait for each other in
  a cycle.
* **A failed call writes nothing.** ``post_transfers`` runs inside a savepoint, so a limit
  failure after its transfer rows were inserted leaves no trace even if the caller goes on
  using its transaction.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Result, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tongka.errors import InvalidRequest
from tongka.ledger import statements
from tongka.ledger.accounts import AccountInfo, dialect_of, forget_account, load_accounts
from tongka.ledger.errors import (
    AccountNotFound,
    CreditLimitExceeded,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidTransfer,
    PendingTransferAlreadyResolved,
    PendingTransferExpired,
    PendingTransferNotFound,
    PostAmountExceedsPending,
    SameAccount,
)
from tongka.ledger.models import TRANSFER_ID_LENGTH
from tongka.ledger.queries import find_transfers, transfer_from_row, transfers_table
from tongka.ledger.types import BatchResult, Transfer, TransferKind, TransferRequest

# Amounts and balances are 64-bit in the database; a single amount is kept far below that
# so that no sum of transfers an account could plausibly receive overflows.
MAX_AMOUNT = 2**53
BATCH_ATTEMPTS = 3


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


def _tested_limits(account: AccountInfo, delta: Delta) -> tuple[bool, bool]:
    spec = account.spec
    return (
        spec.debits_must_not_exceed_credits and delta.raises_debits,
        spec.credits_must_not_exceed_debits and delta.raises_credits,
    )


def _delta_params(account_id: str, shard: int, delta: Delta) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "shard": shard,
        "debits_posted": delta.debits_posted,
        "credits_posted": delta.credits_posted,
        "debits_pending": delta.debits_pending,
        "credits_pending": delta.credits_pending,
    }


_SLOT_KEY = "tongka.ledger.shard_slot"
_slot_counter = itertools.count(random.randrange(1 << 20))


async def connection_slot(connection: AsyncConnection) -> int:
    """A number fixed for the database connection this session uses.

    Changes that test no limit go to shard ``slot % shard_count`` of a hot account. On
    PostgreSQL the slot is the server process id, which differs between all connections
    open at the same time (whichever API process holds them), so concurrent transactions
    land on different shard rows and do not wait for each other's row locks, as long as
    there are no more concurrent connections than shards.
    """
    slot = connection.info.get(_SLOT_KEY)
    if slot is None:
        raw = await connection.get_raw_connection()
        server_pid = getattr(raw.driver_connection, "get_server_pid", None)
        slot = server_pid() if callable(server_pid) else next(_slot_counter)
        connection.info[_SLOT_KEY] = slot
    return int(slot)


def _free_shard(account: AccountInfo, slot: int) -> int:
    """Where an untested change goes: this connection's shard (see ``connection_slot``)."""
    return slot % account.shard_count


@dataclass(frozen=True)
class LimitBreach:
    account: AccountInfo
    is_debit_limit: bool


def _sum_shards(rows: Iterable[Any]) -> Delta:
    total = Delta()
    for row in rows:
        total.add(Delta(row[2], row[3], row[4], row[5]))
    return total


def _breach(account: AccountInfo, current: Delta, delta: Delta) -> LimitBreach | None:
    """Which limit ``delta`` would cross on an account whose summed balance is ``current``."""
    after = Delta()
    after.add(current)
    after.add(delta)
    tests_debit, tests_credit = _tested_limits(account, delta)
    if tests_debit and after.debits_posted + after.debits_pending > after.credits_posted:
        return LimitBreach(account, is_debit_limit=True)
    if tests_credit and after.credits_posted + after.credits_pending > after.debits_posted:
        return LimitBreach(account, is_debit_limit=False)
    return None


async def apply_deltas(
    session: AsyncSession, accounts: dict[str, AccountInfo], deltas: dict[str, Delta]
) -> LimitBreach | None:
    """Apply each account's delta in lock order, testing limits in the database.

    Returns the first limit that would be crossed (the caller must then roll back what was
    applied: ``post_transfers`` does so with its savepoint), or None when all were applied.
    """
    dialect = dialect_of(session)
    slot = await connection_slot(await session.connection())
    for account in sorted((accounts[account_id] for account_id in deltas), key=lock_order):
        delta = deltas[account.account_id]
        tests = _tested_limits(account, delta)
        if account.is_sharded and any(tests):
            rows = await session.execute(
                statements.lock_shards_statement(dialect), {"account_ids": [account.account_id]}
            )
            breach = _breach(account, _sum_shards(rows), delta)
            if breach is not None:
                return breach
            tests, shard = (False, False), 0
        else:
            shard = _free_shard(account, slot) if not any(tests) else 0
        result = await session.execute(
            statements.APPLY_DELTA[tests], _delta_params(account.account_id, shard, delta)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            continue
        if not any(tests):
            forget_account(session, account.account_id)
            raise AccountNotFound(f"ledger account {account.account_id} does not exist")
        return LimitBreach(account, is_debit_limit=tests[0])
    return None


# --------------------------------------------------------------------------- validation


def _check_transfer_id(transfer_id: object) -> None:
    if not isinstance(transfer_id, str) or not 0 < len(transfer_id) <= TRANSFER_ID_LENGTH:
        raise InvalidTransfer(
            f"transfer id must be a string of 1 to {TRANSFER_ID_LENGTH} characters, "
            f"got {transfer_id!r}",
            param="transfer_id",
        )


def _check_amount(amount: object, transfer_id: str) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(
            f"transfer {transfer_id}: amount must be an integer number of minor units, "
            f"got {amount!r} ({type(amount).__name__})",
            param="amount",
        )
    if amount <= 0:
        raise InvalidAmount(
            f"transfer {transfer_id}: amount must be positive, got {amount}", param="amount"
        )
    if amount > MAX_AMOUNT:
        raise InvalidAmount(
            f"transfer {transfer_id}: amount {amount} exceeds the maximum {MAX_AMOUNT}",
            param="amount",
        )


def check_request_shape(request: TransferRequest) -> None:
    """Checks that need no database: id, amount, accounts differ, code, timeout."""
    _check_transfer_id(request.transfer_id)
    _check_amount(request.amount, request.transfer_id)
    if request.debit_account_id == request.credit_account_id:
        raise SameAccount(
            f"transfer {request.transfer_id}: debit and credit account are both "
            f"{request.debit_account_id}",
            param="credit_account_id",
        )
    if not request.code or len(request.code) > 40:
        raise InvalidTransfer(
            f"transfer {request.transfer_id}: code must be 1 to 40 characters", param="code"
        )
    if request.reference is not None and len(request.reference) > 128:
        raise InvalidTransfer(
            f"transfer {request.transfer_id}: reference is longer than 128 characters",
            param="reference",
        )
    if not isinstance(request.metadata, dict):
        raise InvalidTransfer(
            f"transfer {request.transfer_id}: metadata must be a JSON object", param="metadata"
        )
    if request.timeout_seconds is not None and (
        not request.pending
        or isinstance(request.timeout_seconds, bool)
        or not isinstance(request.timeout_seconds, int)
        or request.timeout_seconds <= 0
    ):
        raise InvalidTransfer(
            f"transfer {request.transfer_id}: timeout_seconds must be a positive integer "
            "and is only allowed on a pending transfer",
            param="timeout_seconds",
        )


def check_request_accounts(request: TransferRequest, accounts: dict[str, AccountInfo]) -> None:
    """Checks against the accounts: both exist and share the transfer's currency."""
    for account_id in (request.debit_account_id, request.credit_account_id):
        if account_id not in accounts:
            raise AccountNotFound(
                f"transfer {request.transfer_id}: ledger account {account_id} does not exist",
                param="account_id",
            )
    debit, credit = accounts[request.debit_account_id], accounts[request.credit_account_id]
    if not debit.currency == credit.currency == request.currency:
        raise CurrencyMismatch(
            f"transfer {request.transfer_id} in {request.currency}: debit account "
            f"{debit.account_id} is in {debit.currency}, credit account {credit.account_id} "
            f"is in {credit.currency}",
            param="currency",
        )


def _request_kind(request: TransferRequest) -> TransferKind:
    return TransferKind.PENDING if request.pending else TransferKind.SINGLE


def _new_transfer(request: TransferRequest, sequence: int, now: datetime) -> Transfer:
    expires_at = None
    if request.pending and request.timeout_seconds is not None:
        expires_at = now + timedelta(seconds=request.timeout_seconds)
    return Transfer(
        transfer_id=request.transfer_id,
        sequence=sequence,
        kind=_request_kind(request),
        debit_account_id=request.debit_account_id,
        credit_account_id=request.credit_account_id,
        amount=request.amount,
        currency=request.currency,
        code=request.code,
        reference=request.reference,
        metadata=dict(request.metadata),
        pending_id=None,
        expires_at=expires_at,
        created_at=now,
        timeout_seconds=request.timeout_seconds if request.pending else None,
    )


def _insert_params(transfer: Transfer) -> dict[str, Any]:
    return {
        "id": transfer.transfer_id,
        "kind": transfer.kind.value,
        "debit_account_id": transfer.debit_account_id,
        "credit_account_id": transfer.credit_account_id,
        "amount": transfer.amount,
        "currency": transfer.currency,
        "code": transfer.code,
        "reference": transfer.reference,
        "metadata": transfer.metadata,
        "pending_id": transfer.pending_id,
        "timeout_seconds": transfer.timeout_seconds,
        "expires_at": transfer.expires_at,
        "created_at": transfer.created_at,
    }


def _matches(request: TransferRequest, existing: Transfer) -> bool:
    """Same content as an earlier posting with this id (``now`` aside)?"""
    return (
        existing.kind is _request_kind(request)
        and existing.debit_account_id == request.debit_account_id
        and existing.credit_account_id == request.credit_account_id
        and existing.amount == request.amount
        and existing.currency == request.currency
        and existing.code == request.code
        and existing.reference == request.reference
        and existing.metadata == _json_roundtrip(request.metadata)
        and existing.timeout_seconds == (request.timeout_seconds if request.pending else None)
    )


def _json_roundtrip(value: dict[str, Any]) -> Any:
    """What the database gives back for ``value`` (tuples become lists, and so on)."""
    return json.loads(json.dumps(value))


def _idempotency_conflict(transfer_id: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"transfer id {transfer_id} was already used for a different transfer",
        param="transfer_id",
    )


def _limit_error(breach: LimitBreach, transfer_id: str, current: Delta) -> Exception:
    account = breach.account
    if breach.is_debit_limit:
        available = current.credits_posted - current.debits_posted - current.debits_pending
        return InsufficientFunds(
            f"transfer {transfer_id}: account {account.account_id} has {available} "
            f"{account.currency} (minor units) available, not enough for this debit",
            param="amount",
            details={"account_id": account.account_id, "available": available},
        )
    headroom = current.debits_posted - current.credits_posted - current.credits_pending
    return CreditLimitExceeded(
        f"transfer {transfer_id}: account {account.account_id} may take only {headroom} "
        f"{account.currency} (minor units) more in credits",
        param="amount",
        details={"account_id": account.account_id, "available": headroom},
    )


async def _current_balance(session: AsyncSession, account_id: str) -> Delta:
    rows = await session.execute(statements.SELECT_SHARDS, {"account_ids": [account_id]})
    return _sum_shards(rows)


# --------------------------------------------------------------------------- atomic groups


class LedgerCorrupted(RuntimeError):
    """A balance row the ledger relies on is missing: the database was tampered with.

    Not a domain error on purpose: nothing a caller can do; the transaction must roll back.
    """


class _AlreadyPosted(Exception):
    """Internal: some transfer id already exists; leave the savepoint and replay instead."""


def _check_distinct_ids(requests: Sequence[TransferRequest]) -> None:
    seen: set[str] = set()
    for request in requests:
        if request.transfer_id in seen:
            raise InvalidTransfer(
                f"transfer id {request.transfer_id} appears twice in one group",
                param="transfer_id",
            )
        seen.add(request.transfer_id)


def _add_effects(
    deltas: dict[str, Delta], transfer: Transfer, pending_amount: int = 0
) -> tuple[Delta, Delta]:
    debit, credit = transfer_effects(transfer.kind, transfer.amount, pending_amount)
    deltas.setdefault(transfer.debit_account_id, Delta()).add(debit)
    deltas.setdefault(transfer.credit_account_id, Delta()).add(credit)
    return debit, credit


def _blame(transfers: Sequence[Transfer], breach: LimitBreach) -> str:
    """The first transfer of a group that pushed the breached account towards its limit."""
    account_id = breach.account.account_id
    for transfer in transfers:
        side = transfer.debit_account_id if breach.is_debit_limit else transfer.credit_account_id
        if side == account_id:
            return transfer.transfer_id
    return transfers[0].transfer_id


async def post_transfers(
    session: AsyncSession, requests: Sequence[TransferRequest], *, now: datetime
) -> list[Transfer]:
    """Post ``requests`` as ONE atomic group: all are posted, or none and an error is raised.

    Limits are tested on each account's balance after the whole group (so a group may move
    money through an account that starts empty). Replaying the same transfer ids with the
    same content returns the original transfers and changes nothing; a reused id with
    different content raises ``IdempotencyConflict``. Whatever is raised, nothing was written.
    """
    requests = list(requests)
    if not requests:
        return []
    for request in requests:
        check_request_shape(request)
    _check_distinct_ids(requests)
    accounts = await load_accounts(
        session,
        (account_id for r in requests for account_id in (r.debit_account_id, r.credit_account_id)),
    )
    for request in requests:
        check_request_accounts(request, accounts)
    if len(requests) == 1 and dialect_of(session) == "postgresql":
        connection = await session.connection()
        slot = await connection_slot(connection)
        plan = _single_plan(_new_transfer(requests[0], 0, now), accounts, slot)
        if plan is not None:
            return [await _post_single_postgresql(session, connection, requests[0], plan)]
    try:
        return await _post_group(session, requests, accounts, now)
    except _AlreadyPosted:
        return await _replay_group(session, requests)


@dataclass(frozen=True)
class _SinglePlan:
    """One transfer's two balance updates, in lock order, for the one-statement path."""

    transfer: Transfer
    first: AccountInfo
    first_delta: Delta
    first_shard: int
    first_tests: tuple[bool, bool]
    second: AccountInfo
    second_delta: Delta
    second_shard: int


def _single_plan(
    transfer: Transfer, accounts: dict[str, AccountInfo], slot: int
) -> _SinglePlan | None:
    """A plan if the transfer fits the one-statement path: only the account locked first
    tests a limit, and it is not sharded (a sharded account's limit needs all its rows)."""
    debit, credit = transfer_effects(transfer.kind, transfer.amount)
    sides = sorted(
        [
            (accounts[transfer.debit_account_id], debit),
            (accounts[transfer.credit_account_id], credit),
        ],
        key=lambda side: lock_order(side[0]),
    )
    (first, first_delta), (second, second_delta) = sides
    first_tests = _tested_limits(first, first_delta)
    if any(_tested_limits(second, second_delta)) or (first.is_sharded and any(first_tests)):
        return None
    return _SinglePlan(
        transfer=transfer,
        first=first,
        first_delta=first_delta,
        first_shard=0 if any(first_tests) else _free_shard(first, slot),
        first_tests=first_tests,
        second=second,
        second_delta=second_delta,
        second_shard=_free_shard(second, slot),
    )


def _prefixed(prefix: str, params: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{key}": value for key, value in params.items()}


async def _post_single_postgresql(
    session: AsyncSession, connection: AsyncConnection, request: TransferRequest, plan: _SinglePlan
) -> Transfer:
    """One transfer in one statement (``statements.SINGLE_TRANSFER_POSTGRESQL``)."""
    transfer, first = plan.transfer, plan.first
    values = _insert_params(transfer)
    values["metadata"] = json.dumps(transfer.metadata)
    values.update(
        _prefixed("first_", _delta_params(first.account_id, plan.first_shard, plan.first_delta))
    )
    values.update(
        _prefixed(
            "second_", _delta_params(plan.second.account_id, plan.second_shard, plan.second_delta)
        )
    )
    statement = statements.SINGLE_TRANSFER_DRIVER[plan.first_tests]
    result = await connection.exec_driver_sql(statement.sql, statement.arguments(values))
    row = result.one()
    if row.sequence is not None:
        if row.second_updated != 1:
            raise LedgerCorrupted(f"balance row of account {plan.second.account_id} is missing")
        return replace(transfer, sequence=row.sequence)
    if row.first_updated == 1:
        # A concurrent posting of the same id committed after our NOT EXISTS looked: take
        # back our update of the first account (we still hold its row lock), then replay.
        await connection.execute(
            statements.APPLY_DELTA[(False, False)],
            _delta_params(first.account_id, plan.first_shard, plan.first_delta.negated()),
        )
    existing = await find_transfers(session, [transfer.transfer_id])
    if existing:
        return (await _replay_group(session, [request]))[0]
    if not any(plan.first_tests):
        forget_account(session, first.account_id)
        raise AccountNotFound(f"ledger account {first.account_id} does not exist")
    current = await _current_balance(session, first.account_id)
    breach = LimitBreach(first, is_debit_limit=plan.first_tests[0])
    raise _limit_error(breach, transfer.transfer_id, current)


async def _post_group(
    session: AsyncSession,
    requests: Sequence[TransferRequest],
    accounts: dict[str, AccountInfo],
    now: datetime,
) -> list[Transfer]:
    async with session.begin_nested():
        transfers: list[Transfer] = []
        deltas: dict[str, Delta] = {}
        for request in requests:
            transfer = _new_transfer(request, 0, now)
            result = await session.execute(statements.INSERT_TRANSFER, _insert_params(transfer))
            sequence = result.scalar()
            if sequence is None:
                raise _AlreadyPosted
            transfer = replace(transfer, sequence=sequence)
            transfers.append(transfer)
            _add_effects(deltas, transfer)
        breach = await apply_deltas(session, accounts, deltas)
        if breach is not None:
            current = await _current_balance(session, breach.account.account_id)
            raise _limit_error(breach, _blame(transfers, breach), current)
    return transfers


async def _replay_group(
    session: AsyncSession, requests: Sequence[TransferRequest]
) -> list[Transfer]:
    existing = await find_transfers(session, (request.transfer_id for request in requests))
    for request in requests:
        original = existing.get(request.transfer_id)
        if original is None or not _matches(request, original):
            raise _idempotency_conflict(request.transfer_id)
    return [existing[request.transfer_id] for request in requests]


# --------------------------------------------------------------------------- batches


async def post_batch(
    session: AsyncSession, requests: Sequence[TransferRequest], *, now: datetime
) -> list[BatchResult]:
    """Post independent transfers in one database transaction; each succeeds or fails alone.

    Returns one ``BatchResult`` per request, in order. Transfers are decided in order
    against the balances of the limited accounts involved, which are locked first (in the
    common lock order); then the accepted ones are inserted in one statement and each
    account's aggregated change is written once: a few statements for the whole batch.
    """
    requests = list(requests)
    for _attempt in range(BATCH_ATTEMPTS):
        try:
            return await _post_batch_once(session, requests, now)
        except _AlreadyPosted:
            continue  # a concurrent transaction inserted one of our ids: decide again
    raise IdempotencyConflict(
        "the batch kept racing concurrent postings of the same transfer ids; retry it"
    )


async def _post_batch_once(
    session: AsyncSession, requests: list[TransferRequest], now: datetime
) -> list[BatchResult]:
    results: list[BatchResult | None] = [None] * len(requests)

    def fail(index: int, error: Exception) -> None:
        results[index] = BatchResult(transfer=None, error=error)

    valid: list[int] = []
    for index, request in enumerate(requests):
        try:
            check_request_shape(request)
        except InvalidRequest as error:
            fail(index, error)
        else:
            valid.append(index)
    accounts = await load_accounts(
        session,
        (
            account_id
            for index in valid
            for account_id in (requests[index].debit_account_id, requests[index].credit_account_id)
        ),
        missing_ok=True,
    )
    existing = await find_transfers(session, (requests[index].transfer_id for index in valid))
    new: list[int] = []
    first_index: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for index in valid:
        request = requests[index]
        try:
            check_request_accounts(request, accounts)
        except (AccountNotFound, CurrencyMismatch) as error:
            fail(index, error)
            continue
        original = existing.get(request.transfer_id)
        if original is not None:
            if _matches(request, original):
                results[index] = BatchResult(transfer=original, error=None)
            else:
                fail(index, _idempotency_conflict(request.transfer_id))
        elif request.transfer_id in first_index:
            repeats[index] = first_index[request.transfer_id]
        else:
            first_index[request.transfer_id] = index
            new.append(index)

    if new:
        async with session.begin_nested():
            accepted = await _decide_batch(session, requests, new, accounts, fail)
            transfers = [_new_transfer(requests[index], 0, now) for index in accepted]
            if transfers:
                sequences = await _write_batch(session, accounts, transfers)
                for index, transfer in zip(accepted, transfers, strict=True):
                    results[index] = BatchResult(
                        transfer=replace(transfer, sequence=sequences[transfer.transfer_id]),
                        error=None,
                    )
    for index, first in repeats.items():
        outcome = results[first]
        if outcome is not None and _matches(requests[index], _as_transfer(requests[first], now)):
            results[index] = outcome
        else:
            fail(index, _idempotency_conflict(requests[index].transfer_id))
    complete = [result for result in results if result is not None]
    assert len(complete) == len(requests), "every request of a batch gets an outcome"
    return complete


def _as_transfer(request: TransferRequest, now: datetime) -> Transfer:
    return _new_transfer(request, 0, now)


async def _decide_batch(
    session: AsyncSession,
    requests: list[TransferRequest],
    new: list[int],
    accounts: dict[str, AccountInfo],
    fail: Any,
) -> list[int]:
    """Lock the batch's rows, decide each new transfer in order; returns the accepted."""
    involved = {
        account_id
        for index in new
        for account_id in (requests[index].debit_account_id, requests[index].credit_account_id)
    }
    current = await _lock_batch_rows(session, [accounts[account_id] for account_id in involved])
    accepted: list[int] = []
    for index in new:
        request = requests[index]
        effects = dict(
            zip(
                (request.debit_account_id, request.credit_account_id),
                transfer_effects(_request_kind(request), request.amount),
                strict=True,
            )
        )
        breach = next(
            (
                found
                for account_id, delta in effects.items()
                if account_id in current
                and (found := _breach(accounts[account_id], current[account_id], delta))
            ),
            None,
        )
        if breach is not None:
            fail(
                index,
                _limit_error(breach, request.transfer_id, current[breach.account.account_id]),
            )
            continue
        for account_id, delta in effects.items():
            if account_id in current:
                current[account_id].add(delta)
        accepted.append(index)
    return accepted


async def _lock_batch_rows(session: AsyncSession, involved: list[AccountInfo]) -> dict[str, Delta]:
    """Lock what the batch will write, in the common order; the limited accounts' balances.

    On PostgreSQL one statement locks every shard of each limited account (their sums
    decide the batch) and this connection's shard of each other account, so the writes
    that follow need no further lock. SQLite has a single writer: it only reads.
    """
    current = {account.account_id: Delta() for account in involved if is_limited(account)}
    connection = await session.connection()
    rows: Result[Any]
    if dialect_of(session) == "postgresql":
        slot = await connection_slot(connection)
        ordered = sorted(involved, key=lock_order)
        statement = statements.BATCH_LOCK_POSTGRESQL
        rows = await connection.exec_driver_sql(
            statement.sql,
            statement.arguments(
                {
                    "account_ids": [account.account_id for account in ordered],
                    "shards": [_batch_shard(account, slot) for account in ordered],
                    "limited": [is_limited(account) for account in ordered],
                }
            ),
        )
    elif current:
        rows = await session.execute(statements.SELECT_SHARDS, {"account_ids": sorted(current)})
    else:
        return current
    for row in rows:
        if row[0] in current:
            current[row[0]].add(Delta(row[2], row[3], row[4], row[5]))
    return current


def _batch_shard(account: AccountInfo, slot: int) -> int:
    """A batch writes a limited account's change to shard 0, any other to its slot's shard."""
    return 0 if is_limited(account) else _free_shard(account, slot)


def _dialect_insert(dialect: str) -> Any:
    """An INSERT into ledger_transfers that can say ON CONFLICT DO NOTHING on this dialect."""
    if dialect == "sqlite":
        return sqlite_insert(transfers_table)
    return postgresql_insert(transfers_table)


async def _write_batch(
    session: AsyncSession,
    accounts: dict[str, AccountInfo],
    transfers: list[Transfer],
) -> dict[str, int]:
    """Insert the accepted transfers in one statement, then each account's summed change.

    Returns each transfer's sequence; raises ``_AlreadyPosted`` if a concurrent transaction
    inserted one of the ids first.
    """
    connection = await session.connection()
    slot = await connection_slot(connection)
    is_postgresql = dialect_of(session) == "postgresql"
    rows: Result[Any]
    if is_postgresql:
        columns: dict[str, list[Any]] = defaultdict(list)
        for transfer in transfers:
            for name, value in _insert_params(transfer).items():
                columns[name].append(json.dumps(value) if name == "metadata" else value)
        insert = statements.BATCH_INSERT_POSTGRESQL
        rows = await connection.exec_driver_sql(insert.sql, insert.arguments(columns))
    else:
        statement = (
            _dialect_insert("sqlite")
            .on_conflict_do_nothing()
            .returning(transfers_table.c.id, transfers_table.c.sequence)
        )
        rows = await session.execute(statement, [_insert_params(t) for t in transfers])
    sequences: dict[str, int] = {row[0]: row[1] for row in rows}
    if len(sequences) != len(transfers):
        raise _AlreadyPosted
    deltas: dict[str, Delta] = {}
    for transfer in transfers:
        _add_effects(deltas, transfer)
    ordered = sorted((accounts[account_id] for account_id in deltas), key=lock_order)
    changes = [
        _delta_params(account.account_id, _batch_shard(account, slot), deltas[account.account_id])
        for account in ordered
    ]
    if is_postgresql:
        apply = statements.BATCH_APPLY_POSTGRESQL
        await connection.exec_driver_sql(
            apply.sql,
            apply.arguments({name: [change[name] for change in changes] for name in changes[0]}),
        )
    else:
        await session.execute(statements.APPLY_DELTA[(False, False)], changes)
    return sequences


# --------------------------------------------------------------------------- two-phase


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
    session: AsyncSession, pending_id: str
) -> tuple[Transfer | None, Transfer | None]:
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
        raise _idempotency_conflict(transfer_id)
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
    )


async def _resolve_pending(
    session: AsyncSession,
    transfer_id: str,
    pending_id: str,
    kind: TransferKind,
    amount: int | None,
    now: datetime,
) -> Transfer:
    _check_transfer_id(transfer_id)
    pending, resolution = await _pending_and_resolution(session, pending_id)
    if pending is None or pending.kind is not TransferKind.PENDING:
        raise PendingTransferNotFound(f"no pending transfer {pending_id}", param="pending_id")
    if amount is None or kind is TransferKind.VOID_PENDING:
        amount = pending.amount
    _check_amount(amount, transfer_id)
    if resolution is not None:
        return _replay_resolution(resolution, transfer_id, kind, amount)
    if amount > pending.amount:
        raise PostAmountExceedsPending(
            f"cannot post {amount} of pending transfer {pending_id}: it reserved only "
            f"{pending.amount}",
            param="amount",
        )
    if pending.expires_at is not None and now >= pending.expires_at:
        raise PendingTransferExpired(
            f"pending transfer {pending_id} expired at {pending.expires_at.isoformat()}",
            param="pending_id",
        )
    transfer = _resolution_transfer(pending, transfer_id, kind, amount, now)
    sequence = (
        await session.execute(statements.INSERT_TRANSFER, _insert_params(transfer))
    ).scalar()
    if sequence is None:  # the id is taken, or a concurrent resolution committed first
        _, resolution = await _pending_and_resolution(session, pending_id)
        if resolution is None:
            raise _idempotency_conflict(transfer_id)
        return _replay_resolution(resolution, transfer_id, kind, amount)
    accounts = await load_accounts(session, [pending.debit_account_id, pending.credit_account_id])
    deltas: dict[str, Delta] = {}
    _add_effects(deltas, transfer, pending.amount)
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
        result = await session.execute(statements.INSERT_TRANSFER, _insert_params(transfer))
        if result.scalar() is None:
            continue  # resolved concurrently
        _add_effects(deltas, transfer, pending.amount)
        expired += 1
    await apply_deltas(session, accounts, deltas)
    return expired


__all__ = [
    "Delta",
    "apply_deltas",
    "expire_pending",
    "post_batch",
    "post_pending",
    "post_transfers",
    "transfer_effects",
    "void_pending",
]
