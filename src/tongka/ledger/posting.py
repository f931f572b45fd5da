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
* **A failed call writes nothing**, even if the caller goes on using its transaction. On
  PostgreSQL a single transfer is one statement that writes only if all of it succeeds
  (``statements.SINGLE_TRANSFER_POSTGRESQL``); groups, and everything on SQLite, run inside
  a savepoint that a refusal rolls back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tongka import metrics
from tongka.db.statements import (
    AnyUnitOfWork,
    dialect_of,
    execute_count,
    fetch_one,
    savepoint,
)
from tongka.ledger import statements
from tongka.ledger.accounts import (
    AccountInfo,
    forget_account,
    load_accounts,
)
from tongka.ledger.balances import (
    Delta,
    LimitBreach,
    add_effects,
    apply_deltas,
    connection_slot,
    delta_params,
    free_shard,
    limit_breach_of,
    lock_order,
    locked_balance,
    tested_limits,
    transfer_effects,
)
from tongka.ledger.errors import (
    AccountNotFound,
    IdempotencyConflict,
    InvalidTransfer,
    LedgerContention,
)
from tongka.ledger.queries import find_transfers
from tongka.ledger.types import Transfer, TransferRequest
from tongka.ledger.validation import (
    check_request_accounts,
    check_request_shape,
    idempotency_conflict,
    insert_params,
    limit_error,
    matches_request,
    new_transfer,
)


class LedgerCorrupted(RuntimeError):
    """A balance row the ledger relies on is missing: the database was tampered with.

    Not a domain error on purpose: nothing a caller can do; the transaction must roll back.
    """


class AlreadyPosted(Exception):
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


def _blame(transfers: Sequence[Transfer], breach: LimitBreach) -> str:
    """The first transfer of a group that pushed the breached account towards its limit."""
    account_id = breach.account.account_id
    for transfer in transfers:
        side = transfer.debit_account_id if breach.is_debit_limit else transfer.credit_account_id
        if side == account_id:
            return transfer.transfer_id
    return transfers[0].transfer_id


@metrics.count_postings
async def post_transfers(
    session: AnyUnitOfWork, requests: Sequence[TransferRequest], *, now: datetime
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
        slot = await connection_slot(session)
        plan = _single_plan(new_transfer(requests[0], 0, now), accounts, slot)
        if plan is not None:
            return [await _post_single_postgresql(session, requests[0], plan, accounts)]
    return await _post_general(session, requests, accounts, now)


async def _post_general(
    session: AnyUnitOfWork,
    requests: Sequence[TransferRequest],
    accounts: dict[str, AccountInfo],
    now: datetime,
) -> list[Transfer]:
    """The general path (groups, SQLite): insert, then the conditional updates, in a
    savepoint; a taken id makes it a replay instead."""
    try:
        return await _post_group(session, requests, accounts, now)
    except AlreadyPosted:
        return await replay_group(session, requests)


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
    first_tests = tested_limits(first, first_delta)
    if any(tested_limits(second, second_delta)) or (first.is_sharded and any(first_tests)):
        return None
    return _SinglePlan(
        transfer=transfer,
        first=first,
        first_delta=first_delta,
        first_shard=0 if any(first_tests) else free_shard(first, slot),
        first_tests=first_tests,
        second=second,
        second_delta=second_delta,
        second_shard=free_shard(second, slot),
    )


def _prefixed(prefix: str, params: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{key}": value for key, value in params.items()}


async def _post_single_postgresql(
    session: AnyUnitOfWork,
    request: TransferRequest,
    plan: _SinglePlan,
    accounts: dict[str, AccountInfo],
) -> Transfer:
    """One transfer in one statement (``statements.SINGLE_TRANSFER_POSTGRESQL``)."""
    transfer, first = plan.transfer, plan.first
    values = insert_params(transfer)
    values.update(
        _prefixed("first_", delta_params(first.account_id, plan.first_shard, plan.first_delta))
    )
    values.update(
        _prefixed(
            "second_",
            {
                **delta_params(plan.second.account_id, plan.second_shard, plan.second_delta),
                "shard_count": plan.second.shard_count,
            },
        )
    )
    statement = statements.SINGLE_TRANSFER_POSTGRESQL[plan.first_tests]
    first_updated, sequence, second_updated = await fetch_one(session, statement, values)
    if sequence is not None:
        if second_updated != 1:
            raise LedgerCorrupted(f"balance row of account {plan.second.account_id} is missing")
        return new_transfer(request, sequence, transfer.created_at)
    if first_updated == 1:
        # A concurrent posting of the same id committed after our NOT EXISTS looked: take
        # back our update of the first account (we still hold its row lock), then replay.
        await execute_count(
            session,
            statements.APPLY_DELTA[(False, False)],
            delta_params(first.account_id, plan.first_shard, plan.first_delta.negated()),
        )
    current = None
    if first_updated == 0 and any(plan.first_tests):
        # Refused by the limit, or the id was taken. Lock the account first: whoever held
        # its row (perhaps posting this very id) has committed by then, so the look-up below
        # sees it, and the limit is decided on a balance that stays as we read it.
        current = await locked_balance(session, first.account_id)
    if await find_transfers(session, [transfer.transfer_id]):
        return (await replay_group(session, [request]))[0]
    if current is not None:
        breach = limit_breach_of(first, current, plan.first_delta)
        if breach is not None:
            raise limit_error(breach, transfer.transfer_id)
    elif first_updated == 0:
        forget_account(session, first.account_id)
        raise AccountNotFound(f"ledger account {first.account_id} does not exist")
    # The balance grew after the statement looked (we hold its lock now): post it the
    # general way.
    return (await _post_general(session, [request], accounts, transfer.created_at))[0]


async def _post_group(
    session: AnyUnitOfWork,
    requests: Sequence[TransferRequest],
    accounts: dict[str, AccountInfo],
    now: datetime,
) -> list[Transfer]:
    async with savepoint(session):
        transfers: list[Transfer] = []
        deltas: dict[str, Delta] = {}
        for request in requests:
            transfer = new_transfer(request, 0, now)
            sequence = await insert_transfer(session, transfer)
            if sequence is None:
                raise AlreadyPosted
            transfer = replace(transfer, sequence=sequence)
            transfers.append(transfer)
            add_effects(deltas, transfer)
        breach = await apply_deltas(session, accounts, deltas)
        if breach is not None:
            raise limit_error(breach, _blame(transfers, breach))
    return transfers


async def insert_transfer(session: AnyUnitOfWork, transfer: Transfer) -> int | None:
    """Insert one transfer; its sequence, or None if the id is taken (nothing inserted)."""
    inserted = await fetch_one(session, statements.INSERT_TRANSFER, insert_params(transfer))
    return None if inserted is None else int(inserted[0])


async def replay_group(
    session: AnyUnitOfWork, requests: Sequence[TransferRequest]
) -> list[Transfer]:
    """The original transfers of a group whose ids are taken: a replay if every id was
    posted with the same content, else ``IdempotencyConflict`` naming an id that was used
    for something else (a different transfer, or without the rest of this group)."""
    existing = await find_transfers(session, (request.transfer_id for request in requests))
    for request in requests:
        original = existing.get(request.transfer_id)
        if original is not None and not matches_request(request, original):
            raise idempotency_conflict(request.transfer_id)
    new = [request.transfer_id for request in requests if request.transfer_id not in existing]
    if new and not existing:  # the posting that took an id rolled back after all
        raise LedgerContention("a concurrent posting of the same transfer ids raced this one")
    if new:
        taken = next(request.transfer_id for request in requests if request.transfer_id in existing)
        raise IdempotencyConflict(
            f"transfer id {taken} was already posted, but not in one group with "
            f"{', '.join(new)}: a group is posted whole or not at all",
            param="transfer_id",
            details={"transfer_id": taken},
        )
    return [existing[request.transfer_id] for request in requests]
