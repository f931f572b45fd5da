"""Coalesced redemptions on PostgreSQL (``tongka.edge.coalescing``): concurrent requests of
one process share a transaction, each in its own savepoint, and every caller gets exactly
its own answer. Bounded by a number of requests and a time cap; no speed is asserted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import func, select

from tests.cards_support import MERCHANT, assert_ledger_verifies, balance_of, cny, funded_card
from tests.cards_support import active_product as make_product
from tests.redemption_support import Till, make_store, make_till
from tongka.api.app import create_app
from tongka.api.models import IdempotencyRecord
from tongka.cards.models import Card
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge import coalescing
from tongka.edge.auth import authenticate
from tongka.edge.coalescing import Coalescer, RunAlone
from tongka.errors import AuthenticationFailed
from tongka.identity.principal import Principal, PrincipalKind
from tongka.ledger.accounts import load_accounts
from tongka.redemption.fees import merchant_payable_account, merchant_payable_id
from tongka.redemption.models import Redemption

pytestmark = pytest.mark.pg

TIME_CAP_SECONDS = 120  # fails only on a hang


@dataclass
class World:
    client: httpx.AsyncClient
    app: FastAPI
    tills: list[Till]
    store_b: str

    @property
    def coalescer(self) -> Coalescer:
        coalescer = self.app.state.coalescer
        assert isinstance(coalescer, Coalescer)
        return coalescer


@pytest.fixture
async def world(
    pg_database: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[World]:
    async with pg_database.transaction() as session:
        first = await make_till(session, clock.now(), amount=5_000)
        product = await make_product(session, clock.now())
        tills = [first]
        for _ in range(3):
            issued = await funded_card(session, clock.now(), product, amount=5_000)
            tills.append(
                Till(
                    first.merchant_id,
                    first.store_id,
                    issued.card.id,
                    issued.number,
                    issued.secret,
                    product.id,
                )
            )
        store_b = await make_store(session, MERCHANT, clock.now())
    principal = Principal(
        kind=PrincipalKind.MERCHANT,
        actor="key:till_a",
        roles=frozenset({"cashier"}),
        merchant_id=MERCHANT,
        store_id=first.store_id,
    )

    def caller(request: Request) -> Principal:
        if request.headers.get("X-Test-Caller") != "till_a":
            raise AuthenticationFailed("Missing or invalid credentials.")
        return principal

    # one lane: every concurrent request queues on the same shared transaction
    relaxed = settings.model_copy(update={"rate_limit_per_ip": "10000/second", "coalesce_lanes": 1})
    app = create_app(relaxed, database=pg_database, clock=clock)
    app.dependency_overrides[authenticate] = caller
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield World(client, app, tills, store_b)


def _body(till: Till, amount: int, **extra: Any) -> dict[str, Any]:
    card = {"number": till.number, "secret": extra.pop("secret", till.secret)}
    return {"amount": cny(amount), "cards": [card], **extra}


async def _post(world: World, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"X-Test-Caller": "till_a", "Idempotency-Key": key or str(uuid.uuid4())}
    return await world.client.post("/v1/redemptions", json=body, headers=headers)


async def _all(*requests: Any) -> list[httpx.Response]:
    return list(await asyncio.wait_for(asyncio.gather(*requests), TIME_CAP_SECONDS))


def _outcome(response: httpx.Response) -> str:
    answer = response.json()
    if response.status_code != 200:
        return str(answer["error"]["code"])
    return str(answer["decline_code"] or answer["status"])


async def test_many_concurrent_redemptions_share_transactions(
    world: World, pg_database: Database, clock: FixedClock
) -> None:
    """60 requests over 4 cards of 5,000 (1,000 each): exactly 20 approved, 40 declined."""
    answers = await _all(*(_post(world, _body(world.tills[i % 4], 1_000)) for i in range(60)))
    outcomes = [_outcome(a) for a in answers]
    assert outcomes.count("approved") == 20
    assert outcomes.count("insufficient_funds") == 40
    for till in world.tills:
        assert (await balance_of(pg_database, till.card_id)).total == 0
    assert world.coalescer.largest_batch > 1  # they did share
    assert world.coalescer.batches < 60
    await assert_ledger_verifies(pg_database, clock.now())


async def test_approvals_and_declines_in_one_batch_each_get_their_own_answer(
    world: World, pg_database: Database, clock: FixedClock
) -> None:
    rich, poor, wrong, fourth = world.tills
    answers = await _all(
        _post(world, _body(rich, 1_000)),
        _post(world, _body(poor, 6_000)),  # more than it holds
        _post(world, _body(wrong, 100, secret="000000")),
        _post(world, _body(fourth, 2_500)),
        _post(world, _body(rich, 500)),
    )
    assert [_outcome(a) for a in answers] == [
        "approved",
        "insufficient_funds",
        "wrong_secret",
        "approved",
        "approved",
    ]
    assert answers[0].json()["allocation"][0]["balance_after"] in (cny(4_000), cny(3_500))
    assert answers[3].json()["taken"] == cny(2_500)
    balances = [(await balance_of(pg_database, t.card_id)).total for t in world.tills]
    assert balances == [3_500, 5_000, 5_000, 2_500]
    async with pg_database.transaction() as session:
        wrong_card = await session.scalar(
            select(Redemption.decline_code).where(Redemption.card_id == wrong.card_id)
        )
    assert wrong_card == "wrong_secret"  # the decline was recorded (committed with the batch)
    await assert_ledger_verifies(pg_database, clock.now())


async def test_duplicates_of_one_key_in_one_batch_take_value_once(
    world: World, pg_database: Database, clock: FixedClock
) -> None:
    till = world.tills[0]
    answers = await _all(
        *(_post(world, _body(till, 1_000), key="dup") for _ in range(8)),
        *(_post(world, _body(world.tills[1], 100)) for _ in range(4)),
    )
    duplicates = answers[:8]
    assert all(a.status_code == 200 for a in duplicates), [a.text for a in duplicates]
    assert len({a.json()["id"] for a in duplicates}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in duplicates) == 7
    assert (await balance_of(pg_database, till.card_id)).total == 4_000
    assert (await balance_of(pg_database, world.tills[1].card_id)).total == 4_600
    async with pg_database.transaction() as session:
        records = await session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.key == "dup")
        )
    assert records == 1
    await assert_ledger_verifies(pg_database, clock.now())


async def test_a_failing_member_leaves_the_others_alone(
    world: World, pg_database: Database, clock: FixedClock
) -> None:
    till = world.tills[0]
    answers = await _all(
        _post(world, _body(till, 1_000)),
        _post(world, _body(till, 1_000, store_id=world.store_b), key="refused"),
        _post(world, _body(till, 1_000)),
    )
    assert [a.status_code for a in answers] == [200, 403, 200]
    assert answers[1].json()["error"]["code"] == "store_not_allowed"
    assert (await balance_of(pg_database, till.card_id)).total == 3_000
    # the refused request left nothing behind: the same key runs afresh
    again = await _post(world, _body(till, 1_000), key="refused")
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, None)
    assert (await balance_of(pg_database, till.card_id)).total == 2_000
    await assert_ledger_verifies(pg_database, clock.now())


async def test_reversals_racing_coalesced_originals_undo_each_once(
    world: World, pg_database: Database, clock: FixedClock
) -> None:
    till = world.tills[0]
    headers = {"X-Test-Caller": "till_a", "Idempotency-Key": "x"}

    async def reverse(key: str) -> httpx.Response:
        return await world.client.post(
            "/v1/redemptions/reversals",
            json={"idempotency_key": key},
            headers=headers | {"Idempotency-Key": f"rev-{key}-{uuid.uuid4()}"},
        )

    for round_ in range(4):
        key = f"k{round_}"
        answers = await _all(
            *(_post(world, _body(till, 500), key=key) for _ in range(3)),
            reverse(key),
            _post(world, _body(world.tills[1], 100)),
        )
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        late = await _post(world, _body(till, 500), key=key)
        assert _outcome(late) in ("reversed", "approved")
    # every original was reversed (before or after it ran): the card holds all it had
    assert (await balance_of(pg_database, till.card_id)).total == 5_000
    assert (await balance_of(pg_database, world.tills[1].card_id)).total == 4_600
    await assert_ledger_verifies(pg_database, clock.now())


async def test_a_member_that_raises_is_rolled_back_alone(
    pg_database: Database, clock: FixedClock
) -> None:
    """The coalescer itself: three members, the middle one raises after writing."""
    coalescer = Coalescer(pg_database, max_members=8, lanes=1)
    started = asyncio.Event()

    async def member(key: str, fail: bool = False) -> str:
        async with coalescer.member() as session:
            started.set()
            session.add(
                IdempotencyRecord(
                    caller="probe",
                    key=key,
                    request_hash="h",
                    method="POST",
                    path="/p",
                    created_at=clock.now(),
                )
            )
            await session.flush()
            await asyncio.sleep(0.01)  # the others queue meanwhile
            if fail:
                raise ValueError("refused")
        return key

    results = await asyncio.wait_for(
        asyncio.gather(member("a"), member("b", fail=True), member("c"), return_exceptions=True),
        TIME_CAP_SECONDS,
    )
    await coalescer.drain()
    assert results[0] == "a"
    assert results[2] == "c"
    assert isinstance(results[1], ValueError)
    assert coalescer.batches == 1
    assert coalescer.largest_batch == 3
    async with pg_database.transaction() as session:
        keys = (
            await session.scalars(
                select(IdempotencyRecord.key).where(IdempotencyRecord.caller == "probe")
            )
        ).all()
    assert sorted(keys) == ["a", "c"]


async def test_a_member_waiting_long_for_a_lock_leaves_to_run_alone(
    pg_database: Database, clock: FixedClock
) -> None:
    """Two processes' batches (two coalescers): the second waits for a row the first
    holds; past the batch lock timeout it is rolled back with ``RunAlone`` (its request
    would run again on its own transaction) instead of stalling its batch."""
    async with pg_database.transaction() as session:
        session.add(
            IdempotencyRecord(
                caller="probe",
                key="held",
                request_hash="h",
                method="POST",
                path="/p",
                created_at=clock.now(),
            )
        )
    first, second = (Coalescer(pg_database, max_members=8, lanes=1) for _ in range(2))
    holding, release = asyncio.Event(), asyncio.Event()
    locked = select(IdempotencyRecord).where(IdempotencyRecord.key == "held").with_for_update()

    async def holder() -> None:
        async with first.member() as session:
            await session.execute(locked)
            holding.set()
            await release.wait()

    async def waiter() -> None:
        await holding.wait()
        try:
            async with second.member() as session:
                await session.execute(locked)
        finally:
            release.set()

    results = await asyncio.wait_for(
        asyncio.gather(holder(), waiter(), return_exceptions=True), TIME_CAP_SECONDS
    )
    await first.drain()
    await second.drain()
    assert results[0] is None
    assert isinstance(results[1], RunAlone)


async def test_a_rolled_back_member_leaves_no_opened_account_in_the_session(
    pg_database: Database, clock: FixedClock
) -> None:
    """The first redemption at a new merchant opens its payable; if that member is rolled
    back, the next member must open it again, not believe the session's memory of it."""
    coalescer = Coalescer(pg_database, max_members=8, lanes=1)
    payable = merchant_payable_id("mch_new", "CNY")

    async def opener() -> None:
        async with coalescer.member() as session:
            await merchant_payable_account(session, "mch_new", "CNY", now=clock.now())
            await asyncio.sleep(0.01)
            raise ValueError("refused")

    async def later() -> bool:
        await asyncio.sleep(0.001)  # queued behind the opener, in the same batch
        async with coalescer.member() as session:
            return payable in await load_accounts(session, [payable], missing_ok=True)

    results = await asyncio.wait_for(
        asyncio.gather(opener(), later(), return_exceptions=True), TIME_CAP_SECONDS
    )
    await coalescer.drain()
    assert isinstance(results[0], ValueError)
    assert results[1] is False
    assert coalescer.largest_batch == 2


async def test_a_request_that_left_its_batch_is_answered_on_its_own(
    world: World, pg_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction holds the card longer than a batch may wait: the request
    leaves its batch, runs again alone, waits for the card and is approved (once)."""
    left: list[BaseException] = []
    original = coalescing._lock_wait_too_long

    def recording(error: BaseException) -> bool:
        if original(error):
            left.append(error)
            return True
        return False

    monkeypatch.setattr(coalescing, "_lock_wait_too_long", recording)
    warm = await _post(world, _body(world.tills[1], 100))  # a cold first request is slow
    assert _outcome(warm) == "approved"
    till = world.tills[0]
    locked = select(Card).where(Card.id == till.card_id).with_for_update()
    holding = asyncio.Event()

    async def hold_the_card() -> None:
        async with pg_database.transaction() as session:
            await session.execute(locked)
            holding.set()
            await asyncio.sleep(1.0)

    async def redeem() -> httpx.Response:
        await holding.wait()
        return await _post(world, _body(till, 1_000))

    _, answer = await asyncio.wait_for(asyncio.gather(hold_the_card(), redeem()), TIME_CAP_SECONDS)
    assert _outcome(answer) == "approved"
    assert left  # it did leave its batch
    assert (await balance_of(pg_database, till.card_id)).total == 4_000
