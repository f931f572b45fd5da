"""``post_batch``: independent transfers in one database transaction (TigerBeetle style).

Each transfer succeeds or fails on its own; the whole batch costs a fixed number of
statements: look up existing ids, lock the rows it will write (in the common lock order),
decide each transfer in order against the locked sums, then write all of it at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Result
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tongka.db import UnitOfWork
from tongka.errors import InvalidRequest
from tongka.ledger import statements
from tongka.ledger.accounts import AccountInfo, connection_of, dialect_of, load_accounts
from tongka.ledger.balances import (
    Delta,
    add_effects,
    connection_slot,
    delta_params,
    free_shard,
    is_limited,
    limit_breach_of,
    lock_order,
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
    insert_params,
    limit_error,
    matches_request,
    new_transfer,
    request_kind,
)

BATCH_ATTEMPTS = 3


async def post_batch(
    session: UnitOfWork, requests: Sequence[TransferRequest], *, now: datetime
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
        except AlreadyPosted:
            continue  # a concurrent transaction inserted one of our ids: decide again
    raise IdempotencyConflict(
        "the batch kept racing concurrent postings of the same transfer ids; retry it"
    )


async def _sort_requests(
    session: UnitOfWork,
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
    session: UnitOfWork, requests: list[TransferRequest], now: datetime
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
        async with session.begin_nested():
            planner = await _prefer_index_joins(session)
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
        columns["metadata"] = [json.dumps(value) for value in columns["metadata"]]
        return cls(indexes, transfers, columns)

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


_Planner = tuple[str, str] | None  # the caller's enable_hashjoin, enable_mergejoin


async def _prefer_index_joins(session: UnitOfWork) -> _Planner:
    """On PostgreSQL, make the batch's array joins probe primary keys (see
    ``statements.PREFER_INDEX_JOINS``); returns the caller's settings, which the batch's
    write statement (or ``_restore_joins``) puts back. Inside the batch's savepoint, so a
    rolled-back batch undoes them too."""
    if dialect_of(session) != "postgresql":
        return None
    connection = await connection_of(session)
    prefer = statements.PREFER_INDEX_JOINS
    hashjoin, mergejoin, *_ = (await connection.exec_driver_sql(prefer.sql)).one()
    return hashjoin, mergejoin


async def _restore_joins(session: UnitOfWork, planner: _Planner) -> None:
    if planner is None:
        return
    connection = await connection_of(session)
    restore = statements.RESTORE_JOINS
    hashjoin, mergejoin = planner
    await connection.exec_driver_sql(
        restore.sql, restore.arguments({"hashjoin": hashjoin, "mergejoin": mergejoin})
    )


async def _decide_batch(
    session: UnitOfWork,
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


async def _lock_batch_rows(session: UnitOfWork, involved: list[AccountInfo]) -> dict[str, Delta]:
    """Lock what the batch will write, in the common order; the limited accounts' balances.

    On PostgreSQL one statement locks every shard of each limited account (their sums
    decide the batch) and this connection's shard of each other account, so the writes
    that follow need no further lock. SQLite has a single writer: it only reads.
    """
    current = {account.account_id: Delta() for account in involved if is_limited(account)}
    connection = await connection_of(session)
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
    return 0 if is_limited(account) else free_shard(account, slot)


def _dialect_insert(dialect: str) -> Any:
    """An INSERT into ledger_transfers that can say ON CONFLICT DO NOTHING on this dialect."""
    if dialect == "sqlite":
        return sqlite_insert(transfers_table)
    return postgresql_insert(transfers_table)


async def _write_batch(
    session: UnitOfWork,
    accounts: dict[str, AccountInfo],
    written: _PreparedTransfers,
    planner: _Planner,
) -> dict[str, int]:
    """Insert the accepted transfers and write each account's summed change (on PostgreSQL
    in one statement, which also restores the caller's planner settings). Returns each
    transfer's sequence; raises ``AlreadyPosted`` if a concurrent transaction inserted one
    of the ids first (the caller's savepoint then undoes the writes)."""
    connection = await connection_of(session)
    slot = await connection_slot(connection)
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
        write = statements.BATCH_WRITE_POSTGRESQL
        rows = await connection.exec_driver_sql(write.sql, write.arguments(columns))
        sequences: dict[str, int] = {row[0]: row[1] for row in rows}
    else:
        statement = (
            _dialect_insert("sqlite")
            .on_conflict_do_nothing()
            .returning(transfers_table.c.id, transfers_table.c.sequence)
        )
        inserted = await session.execute(
            statement, [insert_params(transfer) for transfer in written.transfers]
        )
        sequences = {row[0]: row[1] for row in inserted}
        await session.execute(statements.APPLY_DELTA[(False, False)], changes)
    if len(sequences) != len(written.transfers):
        raise AlreadyPosted
    return sequences
