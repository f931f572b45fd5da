"""The redemption lane (``api.redemption_lane``, ``redemption.lane``) answers as the route
does: the same requests, with real API keys over HTTP, go once to an app with the lane on
and once to one with it off, each on a card of its own, and the answers and the ledger's
effects must be equal; the plain ones must really have been answered by the lane, the
others by the route. Concurrent duplicates and one hot card: value taken once per key, no
overdraft. Bounded by a number of requests and a time cap; ``ledger verify`` after each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.cards_support import active_product, assert_ledger_verifies, balance_of, cny, funded_card
from tests.factories import TEST_KEYS, MerchantWithKey, make_merchant_with_key
from tongka.api.app import create_app
from tongka.api.redemption_lane import Lane
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.identity import service as identity
from tongka.ledger.models import LedgerTransfer
from tongka.redemption import lane
from tongka.redemption.limit_settings import LimitValues, set_product_limits
from tongka.redemption.models import Redemption

pytestmark = pytest.mark.pg

TIME_CAP_SECONDS = 120  # fails only on a hang
# what differs between two runs by nature: ids, and the instants of the run
VOLATILE = {"id", "purchase_id", "card_id", "store_id", "created_at", "expires_at"}


@dataclass
class Card:
    id: str
    number: str
    secret: str
    product_id: str


@dataclass
class World:
    database: Database
    now: datetime
    merchant: MerchantWithKey
    cashier: str  # a cashier key of the merchant's store
    other_store: str
    clients: dict[bool, httpx.AsyncClient]  # lane on / off
    lanes: dict[bool, Any]

    async def card(self, amount: int, *, bonus: int = 0, **product: Any) -> Card:
        async with self.database.transaction() as session:
            made = await active_product(session, self.now, self.merchant.merchant_id, **product)
            issued = await funded_card(session, self.now, made, amount=amount, bonus=bonus)
        return Card(issued.card.id, issued.number, issued.secret, made.id)

    def lane(self) -> Lane:
        found = self.lanes[True].state.redemption_lane
        assert isinstance(found, Lane)
        return found


@pytest.fixture
async def world(
    pg_database: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[World]:
    merchant = await make_merchant_with_key(pg_database, with_store=True, now=clock.now())
    assert merchant.store_id is not None
    async with pg_database.transaction() as session:
        cashier = await identity.create_api_key(
            session,
            TEST_KEYS,
            name="till",
            role="cashier",
            merchant_id=merchant.merchant_id,
            store_id=merchant.store_id,
            actor="test",
            now=clock.now(),
        )
        other = await identity.create_store(
            session,
            merchant_id=merchant.merchant_id,
            name="二店",
            address="上海市黄浦区南京东路2号",
            city="上海",
            actor="test",
            now=clock.now(),
        )
    relaxed = settings.model_copy(update={"rate_limit_per_ip": "10000/second"})
    apps = {
        on: create_app(
            relaxed.model_copy(update={"redemption_lane_members": 64 if on else 0}),
            database=pg_database,
            clock=clock,
        )
        for on in (True, False)
    }
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[True]), base_url="http://t") as on,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=apps[False]), base_url="http://t"
        ) as off,
    ):
        yield World(
            pg_database,
            clock.now(),
            merchant,
            cashier.secret,
            other.id,
            {True: on, False: off},
            apps,
        )
    await assert_ledger_verifies(pg_database, clock.now())


def _body(card: Card, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "amount": cny(amount),
        "cards": [{"number": card.number, "secret": extra.pop("secret", card.secret)}],
        **extra,
    }


async def _post(
    client: httpx.AsyncClient, key: str, body: dict[str, Any], idempotency_key: str | None = None
) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {key}",
        "Idempotency-Key": idempotency_key or str(uuid.uuid4()),
    }
    return await client.post("/v1/redemptions", json=body, headers=headers)


def _shape(value: Any) -> Any:
    """The answer without what differs by nature between two runs."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


async def _effects(database: Database, card_id: str) -> tuple[Any, ...]:
    """The card's balance, its transfers, its records and their events."""
    async with database.transaction() as session:
        transfers = (await session.scalars(select(LedgerTransfer))).all()
        records = (
            await session.scalars(select(Redemption).where(Redemption.card_id == card_id))
        ).all()
        ids = [r.id for r in records]
        events = (await session.scalars(select(Event).where(Event.object_id.in_(ids)))).all()
    mine = sorted(
        (
            t.code,
            t.amount,
            t.debit_account_id.replace(card_id, "<card>"),
            t.transfer_metadata.get("part"),
        )
        for t in transfers
        if (t.transfer_metadata or {}).get("card_id") == card_id
    )
    rows = sorted(
        (r.kind, r.status, r.decline_code, r.requested, r.amount, r.paid, r.bonus, r.fee)
        + (r.balance_after, r.actor, r.terminal_id)
        for r in records
    )
    announced = sorted((e.type, e.object_type, e.actor, e.data["amount"]) for e in events)
    return (await balance_of(database, card_id), mine, rows, announced)


async def _both(
    world: World, setup: dict[str, Any], *requests: tuple[str, int, dict[str, Any]]
) -> list[list[httpx.Response]]:
    """Each ``(key name, amount, extra)`` request on a fresh card, once per app; the
    answers and effects must be equal. The responses, per app: lane on, then off."""
    runs = []
    effects = []
    for on in (True, False):
        card = await world.card(**setup)
        keys = {"cashier": world.cashier, "full": world.merchant.api_key, "unknown": "tk_live_x"}
        answers = []
        for name, amount, extra in requests:
            answers.append(await _post(world.clients[on], keys[name], _body(card, amount, **extra)))
        runs.append(answers)
        effects.append(await _effects(world.database, card.id))
    on_answers, off_answers = runs
    assert [(r.status_code, _shape(r.json())) for r in on_answers] == [
        (r.status_code, _shape(r.json())) for r in off_answers
    ]
    # the same bytes but for the ids: the same keys in the same order, the same formats
    assert [(r.headers["content-type"], list(r.json())) for r in on_answers] == [
        (r.headers["content-type"], list(r.json())) for r in off_answers
    ]
    assert effects[0] == effects[1]
    return runs


async def test_plain_redemptions_are_the_lanes_and_answer_as_the_route(world: World) -> None:
    runs = await _both(
        world,
        {"amount": 10_000, "bonus": 1_000},
        ("cashier", 2_500, {}),
        ("full", 1_000, {"store_id": world.merchant.store_id}),
        ("full", 700, {}),
        ("cashier", 50_000, {"allow_partial": True}),  # takes what is left
        ("cashier", 100, {}),  # nothing left: declined insufficient_funds
        ("cashier", 100, {"allow_partial": True}),  # nothing to take: declined too
    )
    answers = [r.json()["decline_code"] or r.json()["status"] for r in runs[0]]
    assert answers == ["approved"] * 4 + ["insufficient_funds"] * 2
    assert runs[0][3].json()["taken"]["amount"] == 10_000 + 1_000 - 2_500 - 1_000 - 700
    assert world.lane().answered == 6


async def test_every_other_case_goes_to_the_route_with_the_routes_answer(world: World) -> None:
    runs = await _both(
        world,
        {"amount": 3_000},
        ("cashier", 100, {"secret": "000000"}),  # wrong secret
        ("cashier", 100, {"store_id": world.other_store}),  # another store's cashier: 4xx
        ("unknown", 100, {}),  # 401
        ("full", 100, {"store_id": "sto_nosuchstore"}),  # not the merchant's store
        ("cashier", 1_000, {}),  # approved after all that
    )
    codes = [(r.status_code, r.json().get("decline_code")) for r in runs[0]]
    assert codes[0] == (200, "wrong_secret")
    assert [c[0] for c in codes[1:4]] == [403, 401, 403]
    assert codes[4] == (200, None)
    # the wrong secret counts towards the card's lock: the last one is the route's too
    assert world.lane().answered == 0


async def test_a_limited_product_is_the_routes(world: World) -> None:
    card = await world.card(10_000)
    async with world.database.transaction() as session:
        await set_product_limits(
            session,
            card.product_id,
            LimitValues(card_daily_count=1),
            challenge_threshold_minor=None,
            merchant_id=world.merchant.merchant_id,
            actor="user:issuer",
            now=world.now,
        )
    first = await _post(world.clients[True], world.cashier, _body(card, 100))
    second = await _post(world.clients[True], world.cashier, _body(card, 100))
    assert first.json()["status"] == "approved"
    assert second.json()["decline_code"] == "limit_exceeded"
    assert world.lane().answered == 0


async def test_a_replay_gets_the_lanes_first_answer_from_the_route(world: World) -> None:
    card = await world.card(5_000)
    key = str(uuid.uuid4())
    first = await _post(world.clients[True], world.cashier, _body(card, 1_200), key)
    again = await _post(world.clients[True], world.cashier, _body(card, 1_200), key)
    other = await _post(world.clients[True], world.cashier, _body(card, 1_300), key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert other.status_code == 409
    assert (await balance_of(world.database, card.id)).paid == 3_800
    assert world.lane().answered == 1


async def _gathered(*calls: Any) -> list[httpx.Response]:
    return list(await asyncio.wait_for(asyncio.gather(*calls), TIME_CAP_SECONDS))


async def test_concurrent_duplicates_take_value_once(world: World) -> None:
    cards = [await world.card(10_000) for _ in range(4)]
    keys = [str(uuid.uuid4()) for _ in range(24)]
    calls = [
        _post(world.clients[True], world.cashier, _body(cards[i % 4], 100 + i), key)
        for i, key in enumerate(keys)
        for _ in range(3)  # every key sent three times at once
    ]
    answers = await _gathered(*calls)
    assert all(a.status_code == 200 for a in answers)
    by_key: dict[str, set[str]] = {}
    for key, answer in zip([k for k in keys for _ in range(3)], answers, strict=True):
        by_key.setdefault(key, set()).add(answer.text)
    assert all(len(texts) == 1 for texts in by_key.values())  # one answer per key
    for index, card in enumerate(cards):
        spent = sum(100 + i for i in range(len(keys)) if i % 4 == index)
        assert (await balance_of(world.database, card.id)).paid == 10_000 - spent
    assert world.lane().answered >= 1
    assert world.lane().largest > 1  # the requests did share batches


async def test_a_failed_batch_leaves_every_member_to_the_route(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written, then failed before the commit: rolled back whole, and each request is
    answered once by the route."""
    real = lane.redeem_plain

    async def failing(*args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)
        raise ConnectionResetError("lost")

    monkeypatch.setattr(lane, "redeem_plain", failing)
    cards = [await world.card(1_000) for _ in range(3)]
    answers = await _gathered(
        *[_post(world.clients[True], world.cashier, _body(card, 400)) for card in cards]
    )
    assert [a.json().get("status") for a in answers] == ["approved"] * 3, [a.text for a in answers]
    for card in cards:
        assert (await balance_of(world.database, card.id)).paid == 600
    assert world.lane().answered == 0


async def test_one_hot_card_is_never_overdrawn(world: World) -> None:
    card = await world.card(20)
    answers = await _gathered(
        *[_post(world.clients[True], world.cashier, _body(card, 1)) for _ in range(60)]
    )
    outcomes = [a.json()["decline_code"] or a.json()["status"] for a in answers]
    assert outcomes.count("approved") == 20
    assert outcomes.count("insufficient_funds") == 40
    assert (await balance_of(world.database, card.id)).paid == 0
    assert world.lane().answered == 60  # one card's many requests stay in the lane
