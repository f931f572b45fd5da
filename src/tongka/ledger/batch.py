"""``post_batch``: independent transfers in one database transaction (TigerBeetle style).

Each transfer succeeds or fails on its own, decided in order. Two ways to post a batch:

* **Optimistic, in one statement (PostgreSQL).** When every request is well-formed, names
  known accounts, appears once, and no limited account is both debited and credited (nor
  sharded and tested), each limited account's changes all push it the same way, so
  testing its limit once on the summed change is exactly testing it transfer by transfer.
  Then one statement inserts every transfer and adds every account's summed change where
  its limit still holds. If all of it happened, that is the result; otherwise (an id is
  taken, a limit would be crossed) the statement is rolled back to its savepoint and:
* **Transfer by transfer**, a fixed number of statements for the whole batch: look up
  existing ids, lock the rows it will write (in the common lock order), decide each
  transfer in order against the locked sums, then write all of it at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tongka import metrics
from tongka.db.driver import DriverConnection
from tongka.db.statements import (
    AnyUnitOfWork,
    dialect_of,
    fetch_all,
    fetch_one,
    savepoint,
)
from tongka.errors import InvalidRequest
from tongka.ledger import statements
from tongka.ledger.accounts import AccountInfo, load_accounts
from tongka.ledger.balances import (
    Delta,
    add_effects,
    connection_slot,
    delta_params,
    free_shard,
    is_limited,
    limit_breach_of,
    lock_order,
    tested_limits,
    transfer_effects,
)
from tongka.ledger.errors import (
    AccountNotFound,
    CurrencyMismatch,
    IdempotencyConflict,
)
from tongka.ledger.posting import AlreadyPosted
from tongka.ledger.queries import find_transfers, transfers_table
from tongka.ledger.types import BatchResult, Transfer, TransferRequest
from tongka.ledger.validation import (
    check_request_accounts,
    check_request_shape,
    idempotency_conflict,
    insert_columns,
    insert_params,
    limit_error,
    matches_request,
    new_transfer,
    request_kind,
)

BATCH_ATTEMPTS = 3


@metrics.count_postings
async def post_batch(
    session: AnyUnitOfWork, requests: Sequence[TransferRequest], *, now: datetime
) -> list[BatchResult]:
    """Post independent transfers in one database transaction; each succeeds or fails alone.

    Returns one ``BatchResult`` per request, in order. Transfers are decided in order
    against the balances of the limited accounts involved; a refused transfer (bad input,
    unknown account, a limit, an id reused for other content) is an error in its result
    and writes nothing. Replayed ids return their original transfer.
    """
    requests = list(requests)
    if requests and dialect_of(session) == "postgresql":
        posted = await _post_batch_optimistically(session, requests, now)
        if posted is not None:
            return posted
    for _attempt in range(BATCH_ATTEMPTS):
        try:
            return await _post_batch_once(session, requests, now)
        except AlreadyPosted:
            continue  # a concurrent transaction inserted one of our ids: decide again
    raise IdempotencyConflict(
        "the batch kept racing concurrent postings of the same transfer ids; retry it"
    )


class _NotAllPosted(Exception):
    """Internal: the optimistic statement did not post the whole batch; roll it back."""


async def _post_batch_optimistically(
    session: AnyUnitOfWork, requests: list[TransferRequest], now: datetime
) -> list[BatchResult] | None:
    """The whole batch in one statement (see the module docstring), or None when that
    does not apply or did not post every transfer (then nothing was written)."""
    try:
        for request in requests:
            check_request_shape(request)
    except InvalidRequest:
        return None
    if len({request.transfer_id for request in requests}) < len(requests):
        return None
    accounts = await load_accounts(
        session,
        (account_id for r in requests for account_id in (r.debit_account_id, r.credit_account_id)),
        missing_ok=True,
    )
    try:
        for request in requests:
            check_request_accounts(request, accounts)
    except (AccountNotFound, CurrencyMismatch):
        return None
    changes = _summed_changes(requests, accounts, await connection_slot(session))
    if changes is None:
        return None
    values: dict[str, Any] = _with_json_metadata(insert_columns(requests, now)) | changes
    try:
        async with savepoint(session):
            values["hashjoin"], values["mergejoin"] = await _prefer_index_joins(session)
            *inserted, (_, updated) = await fetch_all(
                session, statements.BATCH_OPTIMISTIC_WRITE_POSTGRESQL, values
            )
            if len(inserted) < len(requests) or updated < len(changes["account_id"]):
                raise _NotAllPosted
    except _NotAllPosted:
        return None
    sequences: dict[str, int] = {row[0]: row[1] for row in inserted}
    return [
        BatchResult(transfer=new_transfer(request, sequences[request.transfer_id], now), error=None)
        for request in requests
    ]


# The per-row arrays of BATCH_OPTIMISTIC_WRITE_POSTGRESQL's balance update, in order.
_CHANGE_COLUMNS = (*delta_params("", 0, Delta()), "tests_debits", "tests_credits")


def _summed_changes(
    requests: list[TransferRequest], accounts: dict[str, AccountInfo], slot: int
) -> dict[str, list[Any]] | None:
    """Each written balance row's summed change and the limits to test on it, as the
    arrays of ``BATCH_OPTIMISTIC_WRITE_POSTGRESQL``, in the common lock order; None when
    the batch's outcome could depend on the order of its transfers (see
    ``_order_free_deltas``) or a sharded account's limit would be tested (that needs the
    sum of all its shards)."""
    deltas = _order_free_deltas(requests, accounts)
    if deltas is None:
        return None
    rows = []
    for account in sorted((accounts[account_id] for account_id in deltas), key=lock_order):
        delta = deltas[account.account_id]
        tests = tested_limits(account, delta)
        if account.is_sharded and any(tests):
            return None
        shard = _batch_shard(account, slot)
        rows.append((*delta_params(account.account_id, shard, delta).values(), *tests))
    columns = zip(_CHANGE_COLUMNS, zip(*rows, strict=True), strict=True)
    return {name: list(values) for name, values in columns}


def _order_free_deltas(
    requests: list[TransferRequest], accounts: dict[str, AccountInfo]
) -> dict[str, Delta] | None:
    """Each account's summed change, or None if a limited account is both debited and
    credited: only when every change to it pushes it the same way does testing its limit
    once on the sum equal testing it after each transfer in order."""
    deltas: dict[str, Delta] = {}
    limited = {account_id for account_id, account in accounts.items() if is_limited(account)}
    side_of_limited: dict[str, bool] = {}  # True: debited
    for request in requests:
        debit, credit = transfer_effects(request_kind(request), request.amount)
        for account_id, delta, is_debit in (
            (request.debit_account_id, debit, True),
            (request.credit_account_id, credit, False),
        ):
            total = deltas.get(account_id)
            if total is None:
                deltas[account_id] = delta  # a fresh Delta of this transfer's own
            else:
                total.add(delta)
            if (
                account_id in limited
                and side_of_limited.setdefault(account_id, is_debit) is not is_debit
            ):
                return None
    return deltas


async def _sort_requests(
    session: AnyUnitOfWork,
    requests: list[TransferRequest],
    results: list[BatchResult | None],
    fail: Callable[[int, Exception], None],
) -> tuple[dict[str, AccountInfo], list[int], dict[int, int]]:
    """Settle what needs no lock: malformed requests and unknown accounts fail, replays get
    their original transfer. Returns the accounts, the indexes of new transfers, and the
    repeats of an id earlier in the same batch (index -> first index)."""
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
            if matches_request(request, original):
                results[index] = BatchResult(transfer=original, error=None)
            else:
                fail(index, idempotency_conflict(request.transfer_id))
        elif request.transfer_id in first_index:
            repeats[index] = first_index[request.transfer_id]
        else:
            first_index[request.transfer_id] = index
            new.append(index)
    return accounts, new, repeats


async def _post_batch_once(
    session: AnyUnitOfWork, requests: list[TransferRequest], now: datetime
) -> list[BatchResult]:
    results: list[BatchResult | None] = [None] * len(requests)

    def fail(index: int, error: Exception) -> None:
        results[index] = BatchResult(transfer=None, error=error)

    accounts, new, repeats = await _sort_requests(session, requests, results, fail)
    if new:
        # everything that needs no lock is prepared before the rows are locked
        prepared = _PreparedTransfers.build(
            new, [new_transfer(requests[index], 0, now) for index in new]
        )
        async with savepoint(session):
            planner = (
                await _prefer_index_joins(session) if dialect_of(session) == "postgresql" else None
            )
            accepted = await _decide_batch(session, requests, new, accounts, fail)
            written = prepared.only(accepted)
            if written.transfers:
                sequences = await _write_batch(session, accounts, written, planner)
                for index, transfer in zip(accepted, written.transfers, strict=True):
                    results[index] = BatchResult(
                        transfer=replace(transfer, sequence=sequences[transfer.transfer_id]),
                        error=None,
                    )
            else:
                await _restore_joins(session, planner)
    for index, first in repeats.items():
        outcome = results[first]
        if outcome is not None and matches_request(
            requests[index], _as_transfer(requests[first], now)
        ):
            results[index] = outcome
        else:
            fail(index, idempotency_conflict(requests[index].transfer_id))
    complete = [result for result in results if result is not None]
    assert len(complete) == len(requests), "every request of a batch gets an outcome"
    return complete


def _as_transfer(request: TransferRequest, now: datetime) -> Transfer:
    return new_transfer(request, 0, now)


@dataclass
class _PreparedTransfers:
    """A batch's new transfers and their insert parameters as columns (the arrays the
    PostgreSQL write statement takes), built before any row is locked."""

    indexes: list[int]
    transfers: list[Transfer]
    columns: dict[str, list[Any]]

    @classmethod
    def build(cls, indexes: list[int], transfers: list[Transfer]) -> _PreparedTransfers:
        rows = [insert_params(transfer) for transfer in transfers]
        columns = {name: [row[name] for row in rows] for name in statements.TRANSFER_COLUMNS}
        return cls(indexes, transfers, _with_json_metadata(columns))

    def only(self, accepted: list[int]) -> _PreparedTransfers:
        """The accepted ones (usually all: then no work at all)."""
        if accepted == self.indexes:
            return self
        keep = set(accepted)
        positions = [at for at, index in enumerate(self.indexes) if index in keep]
        return _PreparedTransfers(
            accepted,
            [self.transfers[at] for at in positions],
            {name: [values[at] for at in positions] for name, values in self.columns.items()},
        )


def _with_json_metadata(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The insert columns with metadata as JSON text, as the batch statements' arrays take it."""
    metadata = [json.dumps(value) if value else "{}" for value in columns["metadata"]]
    return columns | {"metadata": metadata}


_Planner = tuple[str, str] | None  # the caller's enable_hashjoin, enable_mergejoin


async def _prefer_index_joins(session: AnyUnitOfWork) -> tuple[str, str]:
    """PostgreSQL: make the batch's array joins probe primary keys (see
    ``statements.PREFER_INDEX_JOINS``); returns the caller's settings, which the batch's
    write statement (or ``_restore_joins``) puts back. Call it inside the batch's
    savepoint, so that a rolled-back batch undoes it too."""
    hashjoin, mergejoin, *_ = await fetch_one(session, statements.PREFER_INDEX_JOINS)
    return hashjoin, mergejoin


async def _restore_joins(session: AnyUnitOfWork, planner: _Planner) -> None:
    if planner is None:
        return
    hashjoin, mergejoin = planner
    await fetch_all(
        session, statements.RESTORE_JOINS, {"hashjoin": hashjoin, "mergejoin": mergejoin}
    )


async def _decide_batch(
    session: AnyUnitOfWork,
    requests: list[TransferRequest],
    new: list[int],
    accounts: dict[str, AccountInfo],
    fail: Callable[[int, Exception], None],
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
                transfer_effects(request_kind(request), request.amount),
                strict=True,
            )
        )
        breach = next(
            (
                found
                for account_id, delta in effects.items()
                if account_id in current
                and (found := limit_breach_of(accounts[account_id], current[account_id], delta))
            ),
            None,
        )
        if breach is not None:
            fail(
                index,
                limit_error(breach, request.transfer_id, current[breach.account.account_id]),
            )
            continue
        for account_id, delta in effects.items():
            if account_id in current:
                current[account_id].add(delta)
        accepted.append(index)
    return accepted


async def _lock_batch_rows(session: AnyUnitOfWork, involved: list[AccountInfo]) -> dict[str, Delta]:
    """Lock what the batch will write, in the common order; the limited accounts' balances.

    On PostgreSQL one statement locks every shard of each limited account (their sums
    decide the batch) and this connection's shard of each other account, so the writes
    that follow need no further lock. SQLite has a single writer: it only reads.
    """
    current = {account.account_id: Delta() for account in involved if is_limited(account)}
    if dialect_of(session) == "postgresql":
        slot = await connection_slot(session)
        ordered = sorted(involved, key=lock_order)
        rows = await fetch_all(
            session,
            statements.BATCH_LOCK_POSTGRESQL,
            {
                "account_ids": [account.account_id for account in ordered],
                "shards": [_batch_shard(account, slot) for account in ordered],
                "limited": [is_limited(account) for account in ordered],
            },
        )
    elif current:
        rows = await fetch_all(session, statements.SELECT_SHARDS, {"account_ids": sorted(current)})
    else:
        return current
    for row in rows:
        if row[0] in current:
            current[row[0]].add(Delta(row[2], row[3], row[4], row[5]))
    return current


def _batch_shard(account: AccountInfo, slot: int) -> int:
    """A batch writes a limited account's change to shard 0, any other to its slot's shard."""
    return 0 if is_limited(account) else free_shard(account, slot)


def _dialect_insert(dialect: str) -> Any:
    """An INSERT into ledger_transfers that can say ON CONFLICT DO NOTHING on this dialect."""
    if dialect == "sqlite":
        return sqlite_insert(transfers_table)
    return postgresql_insert(transfers_table)


async def _write_batch(
    session: AnyUnitOfWork,
    accounts: dict[str, AccountInfo],
    written: _PreparedTransfers,
    planner: _Planner,
) -> dict[str, int]:
    """Insert the accepted transfers and write each account's summed change (on PostgreSQL
    in one statement, which also restores the caller's planner settings). Returns each
    transfer's sequence; raises ``AlreadyPosted`` if a concurrent transaction inserted one
    of the ids first (the caller's savepoint then undoes the writes)."""
    slot = await connection_slot(session)
    deltas: dict[str, Delta] = {}
    for transfer in written.transfers:
        add_effects(deltas, transfer)
    ordered = sorted((accounts[account_id] for account_id in deltas), key=lock_order)
    changes = [
        delta_params(account.account_id, _batch_shard(account, slot), deltas[account.account_id])
        for account in ordered
    ]
    if planner is not None:
        columns: dict[str, Any] = dict(written.columns)
        for name in changes[0]:
            columns[name] = [change[name] for change in changes]
        columns["hashjoin"], columns["mergejoin"] = planner
        rows = await fetch_all(session, statements.BATCH_WRITE_POSTGRESQL, columns)
        sequences: dict[str, int] = {row[0]: row[1] for row in rows}
    else:
        assert not isinstance(session, DriverConnection), "driver connections are PostgreSQL"
        statement = (
            _dialect_insert("sqlite")
            .on_conflict_do_nothing()
            .returning(transfers_table.c.id, transfers_table.c.sequence)
        )
        inserted = await session.execute(
            statement, [insert_params(transfer) for transfer in written.transfers]
        )
        sequences = {row[0]: row[1] for row in inserted}
        await session.execute(statements.APPLY_DELTA[(False, False)].sqlite, changes)
    if len(sequences) != len(written.transfers):
        raise AlreadyPosted
    return sequences
