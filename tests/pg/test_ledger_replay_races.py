"""A replayed transfer id gets its original answer however the race with its first
submission falls (issue #9: a batch once answered ``insufficient_funds`` for a transfer a
concurrent submission of the same id had just posted).

Each test holds a first transaction open after it posted, starts the replay in a task,
waits until the replay is blocked on a lock (``pg_stat_activity``), commits the first,
and then checks the replay's answer. On every unit kind (session, Core connection, driver).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import assert_books_balance
from tests.ledger_support import (
    FUNDING_ACCOUNT,
    balance_of,
    card_and_merchants,
    funding_spec,
    transfer,
    transfer_count,
    unit_of_work,
)
from tongka.clock import FixedClock
from tongka.db import AnyUnitOfWork, Database
from tongka.ledger import Transfer, post_batch, post_pending, post_transfers, posting
from tongka.ledger.accounts import open_account
from tongka.ledger.errors import InsufficientFunds
from tongka.ledger.types import TransferRequest

pytestmark = pytest.mark.pg
PG_UNIT_KINDS = ["session", "connection", "driver"]
HANG_CAP_SECONDS = 60

Work = Callable[[AnyUnitOfWork], Awaitable[Any]]


async def _lock_waiters(database: Database) -> int:
    async with database.connection_transaction() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return int(waiting or 0)


async def race(database: Database, kind: str, first: Work, replay: Work) -> tuple[Any, Any]:
    """Run ``first`` and keep its transaction open; run ``replay`` in a task until it waits
    for a lock (or finished without waiting); commit ``first``; return both answers."""
    async with asyncio.timeout(HANG_CAP_SECONDS):
        async with unit_of_work(database, kind) as unit:
            first_answer = await first(unit)

            async def replaying() -> Any:
                async with unit_of_work(database, kind) as other:
                    return await replay(other)

            task = asyncio.create_task(replaying())
            while not task.done() and await _lock_waiters(database) == 0:
                await asyncio.sleep(0.01)
        # first committed here
        try:
            return first_answer, await task
        except Exception as error:  # the answer under test may be an error
            return first_answer, error


def _x() -> TransferRequest:
    """X: card-1 (holding 1,000) pays the merchant 600: it fits once, not twice."""
    return transfer("x", "card-1", "m", 600)


async def _set_up(database: Database, clock: FixedClock) -> None:
    await card_and_merchants(database, now=clock.now())
    async with database.transaction() as session:
        await open_account(session, funding_spec(), now=clock.now())


def _transfer_of(answer: Any) -> Transfer:
    """The transfer an answer names: a ``Transfer``, a one-element list, a batch result."""
    if isinstance(answer, list):
        answer = answer[0]
    if hasattr(answer, "error"):
        assert answer.error is None, f"refused: {answer.error!r}"
        answer = answer.transfer
    assert isinstance(answer, Transfer), f"not a transfer: {answer!r}"
    return answer


async def _posted_once(database: Database, first: Any, replay: Any, transfers: int) -> None:
    assert _transfer_of(replay) == _transfer_of(first)
    assert (await balance_of(database, "card-1")).available == 1_000 - 600
    assert await transfer_count(database) == transfers
    await assert_books_balance(database)


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
async def test_a_batch_decided_transfer_by_transfer_replays_an_id_posted_meanwhile(
    pg_database: Database, clock: FixedClock, kind: str
) -> None:
    # given: the replay's batch also credits card-1, so it is decided transfer by transfer
    await _set_up(pg_database, clock)
    credit = transfer("top-up", FUNDING_ACCOUNT, "card-1", 1)
    # when
    first, replay = await race(
        pg_database,
        kind,
        lambda unit: post_batch(unit, [_x()], now=clock.now()),
        lambda unit: post_batch(unit, [_x(), credit], now=clock.now()),
    )
    # then: X is the original, not "insufficient funds" against a balance that includes it
    assert [result.ok for result in replay] == [True, True]
    assert _transfer_of(replay[0]) == _transfer_of(first)
    assert (await balance_of(pg_database, "card-1")).available == 1_000 - 600 + 1
    assert await transfer_count(pg_database) == 1 + 2


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
@pytest.mark.parametrize(
    ("first_call", "replay_call"),
    [
        ("single", "single"),
        ("batch", "single"),
        ("single", "batch"),
        ("batch", "batch"),
    ],
    ids=["single-then-single", "batch-then-single", "single-then-batch", "optimistic-batch"],
)
async def test_a_replay_gets_the_original_however_it_was_submitted(
    pg_database: Database, clock: FixedClock, kind: str, first_call: str, replay_call: str
) -> None:
    await _set_up(pg_database, clock)

    def call(how: str) -> Work:
        if how == "single":
            return lambda unit: post_transfers(unit, [_x()], now=clock.now())
        return lambda unit: post_batch(unit, [_x()], now=clock.now())

    first, replay = await race(pg_database, kind, call(first_call), call(replay_call))
    await _posted_once(pg_database, first, replay, transfers=2)


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
async def test_a_replayed_group_gets_the_original_group(
    pg_database: Database, clock: FixedClock, kind: str
) -> None:
    await _set_up(pg_database, clock)
    group = [_x(), transfer("x-fee", "card-1", "hot", 1)]
    first, replay = await race(
        pg_database,
        kind,
        lambda unit: post_transfers(unit, group, now=clock.now()),
        lambda unit: post_transfers(unit, group, now=clock.now()),
    )
    assert replay == first
    assert (await balance_of(pg_database, "card-1")).available == 1_000 - 601


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
async def test_a_replayed_pending_transfer_gets_the_original(
    pg_database: Database, clock: FixedClock, kind: str
) -> None:
    await _set_up(pg_database, clock)
    hold = transfer("hold", "card-1", "m", 600, pending=True, timeout_seconds=60)
    first, replay = await race(
        pg_database,
        kind,
        lambda unit: post_transfers(unit, [hold], now=clock.now()),
        lambda unit: post_batch(unit, [hold], now=clock.now()),
    )
    assert _transfer_of(replay) == _transfer_of(first)
    assert (await balance_of(pg_database, "card-1")).available == 1_000 - 600


@pytest.mark.parametrize("kind", ["session", "connection"])
async def test_a_replayed_phase_two_is_not_refused_for_an_expiry_that_came_after_it(
    pg_database: Database, clock: FixedClock, kind: str
) -> None:
    # given: a pending transfer that expires in 60 s
    await _set_up(pg_database, clock)
    hold = transfer("hold", "card-1", "m", 600, pending=True, timeout_seconds=60)
    async with pg_database.transaction() as session:
        await post_transfers(session, [hold], now=clock.now())
    later = clock.now() + timedelta(seconds=61)
    # when: it is posted in time, and the replay of that posting arrives after the timeout
    first, replay = await race(
        pg_database,
        kind,
        lambda unit: post_pending(
            unit,  # type: ignore[arg-type]
            transfer_id="capture",
            pending_id="hold",
            amount=500,
            now=clock.now(),
        ),
        lambda unit: post_pending(
            unit,  # type: ignore[arg-type]
            transfer_id="capture",
            pending_id="hold",
            amount=500,
            now=later,
        ),
    )
    # then
    assert replay == first
    assert (await balance_of(pg_database, "card-1")).available == 1_000 - 500


@pytest.mark.parametrize("kind", PG_UNIT_KINDS)
async def test_a_refusal_names_the_balance_it_was_decided_on(
    pg_database: Database, clock: FixedClock, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A credit that commits right after the refusing statement must not show up in the
    refusal ("310 available" for a 173 debit)."""
    # given: card-1 has 50 left
    await _set_up(pg_database, clock)
    async with pg_database.transaction() as session:
        await post_transfers(session, [transfer("spend", "card-1", "m", 950)], now=clock.now())
    credits: list[asyncio.Task[Any]] = []
    original_find = posting.find_transfers

    async def find_then_credit(unit: AnyUnitOfWork, ids: Any) -> Any:
        # between the refusal and its error, another client puts 260 on the card
        if not credits:
            credits.append(
                asyncio.create_task(
                    _post_alone(
                        pg_database, transfer("credit", FUNDING_ACCOUNT, "card-1", 260), clock
                    )
                )
            )
            await asyncio.wait(credits, timeout=0.5)  # it waits for our lock, if we hold one
        return await original_find(unit, ids)

    monkeypatch.setattr(posting, "find_transfers", find_then_credit)
    # when
    async with unit_of_work(pg_database, kind) as unit:
        with pytest.raises(InsufficientFunds) as refused:
            await post_transfers(unit, [transfer("debit", "card-1", "m", 173)], now=clock.now())
    # then: the refusal names the 50 it was decided on
    assert refused.value.details["available"] == 50
    async with asyncio.timeout(HANG_CAP_SECONDS):
        await asyncio.gather(*credits)
    assert (await balance_of(pg_database, "card-1")).available == 50 + 260


async def _post_alone(database: Database, request: TransferRequest, clock: FixedClock) -> Any:
    async with database.transaction() as session:
        return await post_transfers(session, [request], now=clock.now())
