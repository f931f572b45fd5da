"""``post_batch``'s first try on PostgreSQL: the whole batch in ONE statement (see
``tongka.ledger.batch``), and the helpers both of its ways share (array parameters, the
planner settings a batch's statements run with, which shard a batch writes)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tongka.db.statements import AnyUnitOfWork, fetch_all, fetch_one, savepoint
from tongka.errors import InvalidRequest
from tongka.ledger import statements
from tongka.ledger.accounts import AccountInfo, load_accounts
from tongka.ledger.balances import (
    Delta,
    connection_slot,
    delta_params,
    free_shard,
    is_limited,
    lock_order,
    tested_limits,
    transfer_effects,
)
from tongka.ledger.errors import AccountNotFound, CurrencyMismatch
from tongka.ledger.types import BatchResult, TransferRequest
from tongka.ledger.validation import (
    check_request_accounts,
    check_request_shape,
    insert_columns,
    new_transfer,
    request_kind,
)


class _NotAllPosted(Exception):
    """Internal: the optimistic statement did not post the whole batch; roll it back."""


async def post_batch_optimistically(
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
    values: dict[str, Any] = with_json_metadata(insert_columns(requests, now)) | changes
    try:
        async with savepoint(session):
            values["hashjoin"], values["mergejoin"] = await prefer_index_joins(session)
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
        shard = batch_shard(account, slot)
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


def with_json_metadata(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The insert columns with metadata as JSON text, as the batch statements' arrays take it."""
    metadata = [json.dumps(value) if value else "{}" for value in columns["metadata"]]
    return columns | {"metadata": metadata}


Planner = tuple[str, str] | None  # the caller's enable_hashjoin, enable_mergejoin


async def prefer_index_joins(session: AnyUnitOfWork) -> tuple[str, str]:
    """PostgreSQL: make the batch's array joins probe primary keys (see
    ``statements.PREFER_INDEX_JOINS``); returns the caller's settings, which the batch's
    write statement (or ``restore_joins``) puts back. Call it inside the batch's
    savepoint, so that a rolled-back batch undoes it too."""
    hashjoin, mergejoin, *_ = await fetch_one(session, statements.PREFER_INDEX_JOINS)
    return hashjoin, mergejoin


async def restore_joins(session: AnyUnitOfWork, planner: Planner) -> None:
    if planner is None:
        return
    hashjoin, mergejoin = planner
    await fetch_all(
        session, statements.RESTORE_JOINS, {"hashjoin": hashjoin, "mergejoin": mergejoin}
    )


def batch_shard(account: AccountInfo, slot: int) -> int:
    """A batch writes a limited account's change to shard 0, any other to its slot's shard."""
    return 0 if is_limited(account) else free_shard(account, slot)
