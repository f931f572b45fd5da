"""``post_batch``: independent transfers in one database transaction (TigerBeetle style).

Each transfer succeeds or fails on its own, decided in order. Two ways to post a batch:

* **Optimistic, in one statement (PostgreSQL).** When every request is well-formed, names
  known accounts, appears once, and no limited account is both debited and credited (nor
  sharded and tested), each limited account's changes all push it the same way, so
  testing its limit once on the summed change is exactly testing it transfer by transfer.
  Then one statement inserts every transfer and adds every account's summed change where
  its limit still holds. If all of it happened, that is the result; otherwise (an id is
  taken, a limit would be crossed) the statement is rolled back to its savepoint and:
  (``optimistic_batch.py``)
* **Transfer by transfer**, a fixed number of statements for the whole batch: look up
  existing ids, lock the rows it will write (in the common lock order), decide each
  transfer in order against the locked sums, look up again the ids of the transfers it
  refused (one a concurrent transaction posted while we waited for its locks is a replay,
  not a refusal), then write all of it at once.
"""

from __future__ import annotations

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
    is_limited,
    limit_breach_of,
    lock_order,
    transfer_effects,
)
from tongka.ledger.errors import (
    AccountNotFound,
    CurrencyMismatch,
    LedgerContention,
)
from tongka.ledger.optimistic_batch import (
    Planner,
    batch_shard,
    post_batch_optimistically,
    prefer_index_joins,
    restore_joins,
    with_json_metadata,
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
        posted = await post_batch_optimistically(session, requests, now)
        if posted is not None:
            return posted
    for _attempt in range(BATCH_ATTEMPTS):
        try:
            return await _post_batch_once(session, requests, now)
        except AlreadyPosted:
            continue  # a concurrent transaction inserted one of our ids: decide again
    raise LedgerContention(
        "the batch kept racing concurrent postings of the same transfer ids; retry it"
    )


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
                await prefer_index_joins(session) if dialect_of(session) == "postgresql" else None
            )
            accepted, refused = await _decide_batch(session, requests, new, accounts, fail)
            if refused:
                await _replay_taken(session, requests, refused, results, fail)
            written = prepared.only(accepted)
            if written.transfers:
                sequences = await _write_batch(session, accounts, written, planner)
                for index, transfer in zip(accepted, written.transfers, strict=True):
                    results[index] = BatchResult(
                        transfer=replace(transfer, sequence=sequences[transfer.transfer_id]),
                        error=None,
                    )
            else:
                await restore_joins(session, planner)
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
        return cls(indexes, transfers, with_json_metadata(columns))

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


async def _replay_taken(
    session: AnyUnitOfWork,
    requests: list[TransferRequest],
    refused: list[int],
    results: list[BatchResult | None],
    fail: Callable[[int, Exception], None],
) -> None:
    """Give a refused transfer whose id turns out to be taken its original answer.

    Ids were looked up before the rows were locked. A concurrent transaction posting one of
    them held one of those rows (every transfer writes both its accounts' balances) and has
    committed once our lock was granted, so the balances we decided on include it, and a
    transfer we refused may be one it posted: look again, now that it is visible.
    """
    existing = await find_transfers(session, (requests[index].transfer_id for index in refused))
    for index in refused:
        request = requests[index]
        original = existing.get(request.transfer_id)
        if original is None:
            continue
        if matches_request(request, original):
            results[index] = BatchResult(transfer=original, error=None)
        else:
            fail(index, idempotency_conflict(request.transfer_id))


async def _decide_batch(
    session: AnyUnitOfWork,
    requests: list[TransferRequest],
    new: list[int],
    accounts: dict[str, AccountInfo],
    fail: Callable[[int, Exception], None],
) -> tuple[list[int], list[int]]:
    """Lock the batch's rows, decide each new transfer in order; returns the accepted and
    the refused (by a limit)."""
    involved = {
        account_id
        for index in new
        for account_id in (requests[index].debit_account_id, requests[index].credit_account_id)
    }
    current = await _lock_batch_rows(session, [accounts[account_id] for account_id in involved])
    accepted: list[int] = []
    refused: list[int] = []
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
            fail(index, limit_error(breach, request.transfer_id))
            refused.append(index)
            continue
        for account_id, delta in effects.items():
            if account_id in current:
                current[account_id].add(delta)
        accepted.append(index)
    return accepted, refused


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
                "shards": [batch_shard(account, slot) for account in ordered],
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


def _dialect_insert(dialect: str) -> Any:
    """An INSERT into ledger_transfers that can say ON CONFLICT DO NOTHING on this dialect."""
    if dialect == "sqlite":
        return sqlite_insert(transfers_table)
    return postgresql_insert(transfers_table)


async def _write_batch(
    session: AnyUnitOfWork,
    accounts: dict[str, AccountInfo],
    written: _PreparedTransfers,
    planner: Planner,
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
        delta_params(account.account_id, batch_shard(account, slot), deltas[account.account_id])
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
