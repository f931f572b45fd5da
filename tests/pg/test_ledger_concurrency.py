"""The ledger under many concurrent clients on PostgreSQL (each client its own connection)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import assert_books_balance
from tests.ledger_support import (
    FUNDING_ACCOUNT,
    balance_of,
    card_and_merchants,
    card_spec,
    fund,
    funding_spec,
    merchant_spec,
    open_accounts,
    transfer,
    transfer_count,
)
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger import (
    BatchResult,
    Transfer,
    TransferKind,
    expire_pending,
    get_balances,
    list_transfers,
    post_batch,
    post_pending,
    post_transfers,
    void_pending,
)
from tongka.ledger.errors import (
    CreditLimitExceeded,
    InsufficientFunds,
    PendingTransferAlreadyResolved,
    PendingTransferExpired,
)
from tongka.ledger.jobs import seal_blocks
from tongka.ledger.models import LedgerBalance, LedgerTransfer
from tongka.ledger.verify import verify_ledger

pytestmark = pytest.mark.pg
T = TypeVar("T")
WORKERS = 32
# Each bank client runs this many operations, however long that takes; the cap only turns a
# hang into a failure (a loaded machine is slow, not wrong).
OPERATIONS_PER_WORKER = 20
HANG_CAP_SECONDS = 600
CARDS = [f"card-{number:02d}" for number in range(24)]
MERCHANTS = ["merchant-a", "merchant-b"]
HOT = "hot-merchant"
CARD_FUNDS = 5_000
REFUSED = (InsufficientFunds, CreditLimitExceeded)


async def _all_at_once(count: int, work: Callable[[int], Awaitable[T]]) -> list[T]:
    """Run ``work`` in ``count`` tasks released together (each opens its own session)."""
    start = asyncio.Event()

    async def one(number: int) -> T:
        await start.wait()
        return await work(number)

    tasks = [asyncio.create_task(one(number)) for number in range(count)]
    await asyncio.sleep(0.05)
    start.set()
    return await asyncio.gather(*tasks)


async def _bank(database: Database, clock: FixedClock) -> None:
    await open_accounts(
        database,
        funding_spec(),
        merchant_spec(HOT, hot=True),
        *(merchant_spec(m) for m in MERCHANTS),
        *(card_spec(c) for c in CARDS),
        now=clock.now(),
    )
    for card in CARDS:
        await fund(database, card, CARD_FUNDS, now=clock.now())


async def test_bank_many_clients_keep_the_books_exact(
    pg_database: Database, clock: FixedClock
) -> None:
    """32 clients post random transfers, groups, batches and two-phase transfers (a fixed
    number of operations each) while the sealing job runs alongside; afterwards money is
    conserved, no card is below zero, every accepted transfer is in the history exactly
    once, and ``verify`` passes."""
    database = pg_database
    await _bank(database, clock)
    accepted: list[Transfer] = []
    refused = Counter[str]()
    first_accepted, workers_done = asyncio.Event(), asyncio.Event()

    async def worker(number: int) -> None:
        rng = random.Random(number)
        for sequence in range(1, OPERATIONS_PER_WORKER + 1):
            if accepted:
                first_accepted.set()
            prefix = f"w{number}-{sequence}"
            card, other = rng.sample(CARDS, 2)
            amount = rng.randint(1, 1_500)
            choice = rng.random()
            try:
                if choice < 0.35:  # into the hot merchant
                    request = transfer(prefix, card, HOT, amount)
                    accepted.extend(await _post(database, [request], clock))
                elif choice < 0.55:  # card to card: both accounts limited
                    accepted.extend(
                        await _post(database, [transfer(prefix, card, other, amount)], clock)
                    )
                elif choice < 0.70:  # an atomic group: merchant and hot fee
                    group = [
                        transfer(f"{prefix}-m", card, rng.choice(MERCHANTS), amount),
                        transfer(f"{prefix}-f", card, HOT, 1 + amount // 100),
                    ]
                    accepted.extend(await _post(database, group, clock))
                elif choice < 0.85:  # a batch of independent transfers
                    batch = [
                        transfer(
                            f"{prefix}-{i}",
                            rng.choice(CARDS),
                            rng.choice([HOT, *MERCHANTS, *CARDS]),
                            rng.randint(1, 800),
                        )
                        for i in range(5)
                    ]
                    batch = [r for r in batch if r.debit_account_id != r.credit_account_id]
                    results = await _post_batch(database, batch, clock)
                    for result in results:
                        if result.transfer is not None:
                            accepted.append(result.transfer)
                        else:
                            assert isinstance(result.error, REFUSED), result.error
                            refused[type(result.error).__name__] += 1
                else:  # two-phase: reserve, then post part of it or void it
                    accepted.extend(await _two_phase(database, clock, rng, prefix, card, amount))
            except REFUSED as error:
                refused[type(error).__name__] += 1

    async def sealer() -> int:
        """The worker's sealing job, running alongside (transfers commit out of order); it
        starts once a transfer has committed, so it always has something to seal."""
        await asyncio.wait(
            [asyncio.create_task(first_accepted.wait()), asyncio.create_task(workers_done.wait())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        sealed = 0
        while True:
            sealed += await seal_blocks(database, clock, Settings(environment="test"))
            if workers_done.is_set():
                return sealed
            await asyncio.sleep(0.2)

    async def all_workers() -> None:
        await asyncio.gather(*(worker(number) for number in range(WORKERS)))
        workers_done.set()

    async with asyncio.timeout(HANG_CAP_SECONDS):
        _, sealed_meanwhile = await asyncio.gather(all_workers(), sealer())

    # totals conserved: everything the cards and merchants hold came from funding
    async with database.transaction() as session:
        balances = await get_balances(session, [FUNDING_ACCOUNT, HOT, *MERCHANTS, *CARDS])
    funded = balances[FUNDING_ACCOUNT].debits_posted
    assert funded == CARD_FUNDS * len(CARDS)
    assert sum(balances[a].posted for a in [HOT, *MERCHANTS, *CARDS]) == funded
    assert all(balances[card].available >= 0 for card in CARDS)
    assert all(balances[a].debits_pending == balances[a].credits_pending == 0 for a in balances)
    # every accepted transfer exactly once, in the journal and in both accounts' histories
    accepted_ids = Counter(t.transfer_id for t in accepted)
    assert max(accepted_ids.values()) == 1
    async with database.transaction() as session:
        stored = Counter(
            (
                await session.scalars(
                    select(LedgerTransfer.id).where(LedgerTransfer.id.not_like("fund-%"))
                )
            ).all()
        )
        histories = Counter[str]()
        for account in [HOT, *MERCHANTS, *CARDS]:
            histories.update(t.transfer_id for t in await _history(session, account))
    assert stored == accepted_ids
    assert histories == _expected_histories(accepted)
    assert len(accepted) > WORKERS * OPERATIONS_PER_WORKER // 4  # most are accepted
    assert sealed_meanwhile > 0
    assert refused  # the limits were actually tested
    async with database.transaction() as session:
        report = await verify_ledger(session, clock.now())
    assert report.ok, report.failures


async def _two_phase(
    database: Database, clock: FixedClock, rng: random.Random, prefix: str, card: str, amount: int
) -> list[Transfer]:
    [pending] = await _post(database, [transfer(prefix, card, HOT, amount, pending=True)], clock)
    if rng.random() < 0.6:
        posted_amount = rng.randint(1, amount)
        resolved = await database.run(
            lambda session: post_pending(
                session,
                transfer_id=f"{prefix}-post",
                pending_id=prefix,
                amount=posted_amount,
                now=clock.now(),
            )
        )
    else:
        resolved = await database.run(
            lambda session: void_pending(
                session, transfer_id=f"{prefix}-void", pending_id=prefix, now=clock.now()
            )
        )
    return [pending, resolved]


def _expected_histories(accepted: list[Transfer]) -> Counter[str]:
    """Each transfer appears once in the history of each of its (non-funding) accounts."""
    expected = Counter[str]()
    for t in accepted:
        for account in (t.debit_account_id, t.credit_account_id):
            if account != FUNDING_ACCOUNT:
                expected[t.transfer_id] += 1
    return expected


async def _history(session: AsyncSession, account_id: str) -> list[Transfer]:
    found: list[Transfer] = []
    after = None
    while page := await list_transfers(session, account_id, limit=500, after_sequence=after):
        found.extend(t for t in page if not t.transfer_id.startswith("fund-"))
        after = page[-1].sequence
    return found


async def _card_with_1000(database: Database, clock: FixedClock) -> Database:
    """card-1 holding 1,000, and a merchant m."""
    await open_accounts(database, card_spec("card-1"), merchant_spec("m"), now=clock.now())
    await fund(database, "card-1", 1_000, now=clock.now())
    return database


_units = itertools.count()


def _run(database: Database, work: Callable[[Any], Awaitable[T]]) -> Awaitable[T]:
    """``work`` in turn on an ORM session, a Core connection and a driver connection (the
    hot paths' unit of work), so the three kinds of transaction race each other."""
    runs: list[Callable[[Any], Awaitable[T]]] = [
        database.run,
        database.run_connection,
        database.run_driver,
    ]
    return runs[next(_units) % len(runs)](work)


async def _post(database: Database, requests: list, clock: FixedClock) -> list[Transfer]:
    return await _run(database, lambda unit: post_transfers(unit, requests, now=clock.now()))


async def _post_batch(database: Database, requests: list, clock: FixedClock) -> list[BatchResult]:
    return await _run(database, lambda unit: post_batch(unit, requests, now=clock.now()))


@pytest.mark.parametrize("group_size", [1, 2], ids=["single", "group"])
async def test_the_same_key_from_many_clients_at_once_posts_once(
    pg_database: Database, clock: FixedClock, group_size: int
) -> None:
    database = pg_database
    await card_and_merchants(database, now=clock.now())
    group = [transfer("pay-1", "card-1", "m", 300), transfer("pay-1-fee", "card-1", "hot", 3)]

    results = await _all_at_once(WORKERS, lambda _: _post(database, group[:group_size], clock))

    assert len({tuple(t.sequence for t in result) for result in results}) == 1
    assert await transfer_count(database) == 1 + group_size
    assert (await balance_of(database, "card-1")).available == 1_000 - sum(
        r.amount for r in group[:group_size]
    )
    await assert_books_balance(database)


async def test_the_same_key_in_concurrent_batches_posts_once(
    pg_database: Database, clock: FixedClock
) -> None:
    database = await _card_with_1000(pg_database, clock)
    batch = [transfer("pay-1", "card-1", "m", 300), transfer("pay-2", "card-1", "m", 200)]

    results = await _all_at_once(WORKERS, lambda _: _post_batch(database, batch, clock))

    sequences = {tuple(r.transfer.sequence for r in result if r.transfer) for result in results}
    assert len(sequences) == 1
    assert all(r.ok for result in results for r in result)
    assert (await balance_of(database, "card-1")).available == 500
    await assert_books_balance(database)


async def test_only_one_of_many_concurrent_resolutions_wins(
    pg_database: Database, clock: FixedClock
) -> None:
    database = await _card_with_1000(pg_database, clock)
    await _post(
        database, [transfer("auth", "card-1", "m", 600, pending=True, timeout_seconds=30)], clock
    )

    async def resolve(number: int) -> str:
        try:
            async with database.transaction() as session:
                if number % 3 == 0:
                    await void_pending(
                        session, transfer_id=f"r{number}", pending_id="auth", now=clock.now()
                    )
                elif number % 3 == 1:
                    await post_pending(
                        session, transfer_id=f"r{number}", pending_id="auth", now=clock.now()
                    )
                else:
                    await expire_pending(session, now=clock.now() + timedelta(seconds=31))
                    return "expiry-job"
        except (PendingTransferAlreadyResolved, PendingTransferExpired):
            return "refused"
        return "won"

    outcomes = Counter(await _all_at_once(WORKERS, resolve))

    async with database.transaction() as session:
        resolutions = await session.scalar(
            select(func.count())
            .select_from(LedgerTransfer)
            .where(LedgerTransfer.pending_id == "auth")
        )
        kinds = (
            await session.scalars(
                select(LedgerTransfer.kind).where(LedgerTransfer.pending_id == "auth")
            )
        ).all()
    assert resolutions == 1
    assert outcomes["won"] <= 1
    card = await balance_of(database, "card-1")
    assert card.debits_pending == 0
    assert card.available == (400 if kinds == [TransferKind.POST_PENDING.value] else 1_000)
    await assert_books_balance(database)


async def test_concurrent_credits_to_a_hot_account_use_many_shards(
    pg_database: Database, clock: FixedClock
) -> None:
    database = pg_database
    await open_accounts(database, funding_spec(), merchant_spec("hot", hot=True), now=clock.now())

    await _all_at_once(
        WORKERS,
        lambda number: _post(
            database, [transfer(f"credit-{number}", FUNDING_ACCOUNT, "hot", 10)], clock
        ),
    )

    async with database.transaction() as session:
        shards = (
            await session.scalars(
                select(LedgerBalance.credits_posted).where(LedgerBalance.account_id == "hot")
            )
        ).all()
    assert sum(shards) == 10 * WORKERS
    assert sum(1 for value in shards if value) > WORKERS // 4  # spread, not one hot row
    assert (await balance_of(database, "hot")).credits_posted == 10 * WORKERS
    await assert_books_balance(database)
