"""The controls' API: limits within bounds, payment codes at the till, limit declines."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Request

from tests.cards_support import (
    MERCHANT,
    active_product,
    balance_of,
    cny,
    funded_card,
    make_holder,
)
from tests.redemption_support import make_store
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import authenticate
from tongka.errors import AuthenticationFailed
from tongka.identity.principal import Principal, PrincipalKind

CALLERS: dict[str, Principal] = {}


def _caller(request: Request) -> Principal:
    name = request.headers.get("X-Test-Caller")
    if name not in CALLERS:
        raise AuthenticationFailed("Missing or invalid credentials.")
    return CALLERS[name]


@dataclass(frozen=True)
class World:
    client: httpx.AsyncClient
    product_id: str
    card_id: str
    store_id: str


@pytest.fixture
async def world(database: Database, clock: FixedClock, settings: Settings) -> AsyncIterator[World]:
    now = clock.now()
    async with database.transaction() as session:
        product = await active_product(session, now)
        store_id = await make_store(session, MERCHANT, now)
        holder = await make_holder(session, now)
        card = (await funded_card(session, now, product, amount=5_000, holder_id=holder)).card
        stranger = await make_holder(session, now)
    CALLERS.clear()
    CALLERS["till"] = Principal(
        kind=PrincipalKind.MERCHANT,
        actor="key:till",
        roles=frozenset({"cashier"}),
        merchant_id=MERCHANT,
        store_id=store_id,
    )
    CALLERS["manager"] = Principal(
        kind=PrincipalKind.MERCHANT,
        actor="user:m",
        roles=frozenset({"merchant_admin"}),
        merchant_id=MERCHANT,
    )
    CALLERS["admin"] = Principal(
        kind=PrincipalKind.PLATFORM, actor="user:op", roles=frozenset({"admin"})
    )
    for name, consumer_id in (("holder", holder), ("stranger", stranger)):
        CALLERS[name] = Principal(
            kind=PrincipalKind.CONSUMER,
            actor=f"consumer:{consumer_id}",
            roles=frozenset(),
            consumer_id=consumer_id,
        )
    relaxed = settings.model_copy(update={"rate_limit_per_ip": "10000/second"})
    app = create_app(relaxed, database=database, clock=clock)
    app.dependency_overrides[authenticate] = _caller
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield World(client, product.id, card.id, store_id)


async def call(
    world: World, method: str, path: str, body: dict[str, Any] | None, caller: str
) -> httpx.Response:
    headers = {"X-Test-Caller": caller, "Idempotency-Key": str(uuid.uuid4())}
    return await world.client.request(method, path, json=body, headers=headers)


async def test_limits_within_bounds_and_refused_above(world: World) -> None:
    bounds = await call(
        world, "PUT", "/v1/redemption_limit_bounds/CNY", {"card_daily_count": 10}, "admin"
    )
    assert bounds.status_code == 200, bounds.text
    path = f"/v1/products/{world.product_id}/redemption_limits"
    above = await call(world, "PUT", path, {"card_daily_count": 11}, "manager")
    cashier = await call(world, "PUT", path, {"card_daily_count": 5}, "till")
    within = await call(
        world,
        "PUT",
        path,
        {"card_daily_count": 1, "challenge_threshold": cny(100_000)},
        "manager",
    )
    read = await call(world, "GET", path, None, "till")

    assert (above.status_code, above.json()["error"]["code"]) == (
        400,
        "redemption_limit_out_of_bounds",
    )
    assert cashier.status_code == 403
    assert within.status_code == 200, within.text
    assert read.json()["limits"]["card_daily_count"] == 1
    assert read.json()["bounds"]["card_daily_count"] == 10
    assert read.json()["challenge_threshold"] == cny(100_000)


async def test_payment_code_redeems_once_and_limits_decline(
    world: World, database: Database
) -> None:
    path = f"/v1/products/{world.product_id}/redemption_limits"
    await call(world, "PUT", path, {"card_daily_count": 1}, "manager")
    stranger = await call(
        world, "POST", "/v1/me/payment_codes", {"card_id": world.card_id}, "stranger"
    )
    issued = await call(world, "POST", "/v1/me/payment_codes", {"card_id": world.card_id}, "holder")
    assert stranger.status_code == 404
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]

    def redemption(payment_code: str) -> dict[str, Any]:
        return {"amount": cny(1_000), "cards": [{"payment_code": payment_code}]}

    first = await call(world, "POST", "/v1/redemptions", redemption(code), "till")
    again = await call(world, "POST", "/v1/redemptions", redemption(code), "till")
    fresh = (
        await call(world, "POST", "/v1/me/payment_codes", {"card_id": world.card_id}, "holder")
    ).json()["code"]
    over_limit = await call(world, "POST", "/v1/redemptions", redemption(fresh), "till")

    assert first.json()["status"] == "approved", first.text
    assert again.json()["error"]["code"] == "payment_code_used"
    assert (over_limit.json()["status"], over_limit.json()["decline_code"]) == (
        "declined",
        "limit_exceeded",
    )
    assert (await balance_of(database, world.card_id)).total == 4_000


async def test_a_declined_redemption_does_not_burn_the_payment_code(
    world: World, database: Database
) -> None:
    issued = await call(world, "POST", "/v1/me/payment_codes", {"card_id": world.card_id}, "holder")
    code = issued.json()["code"]

    def redemption(amount: int) -> dict[str, Any]:
        return {"amount": cny(amount), "cards": [{"payment_code": code}]}

    too_much = await call(world, "POST", "/v1/redemptions", redemption(9_000), "till")
    fits = await call(world, "POST", "/v1/redemptions", redemption(1_000), "till")
    spent = await call(world, "POST", "/v1/redemptions", redemption(1_000), "till")

    assert (too_much.json()["status"], too_much.json()["decline_code"]) == (
        "declined",
        "insufficient_funds",
    )
    assert fits.json()["status"] == "approved", fits.text
    assert spent.json()["error"]["code"] == "payment_code_used"
    assert (await balance_of(database, world.card_id)).total == 4_000


@pytest.mark.parametrize(
    ("currency", "code"),
    [
        ("§´¤ïÿ", "unknown_currency"),
        ("ZZZ", "unknown_currency"),
        ("CNYX", "unknown_currency"),
        ("USD", "currency_not_enabled"),
    ],
)
async def test_bounds_for_an_unknown_or_refused_currency_are_a_clear_400(
    world: World, database: Database, currency: str, code: str
) -> None:
    before = await call(world, "GET", "/v1/redemption_limit_bounds", None, "admin")
    answer = await call(
        world, "PUT", f"/v1/redemption_limit_bounds/{currency}", {"card_daily_count": 3}, "admin"
    )
    after = await call(world, "GET", "/v1/redemption_limit_bounds", None, "admin")

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, code)
    assert answer.json()["error"]["param"] == "currency"
    assert after.json() == before.json()


async def test_bounds_of_an_accepted_currency_may_be_typed_in_lower_case(world: World) -> None:
    answer = await call(
        world, "PUT", "/v1/redemption_limit_bounds/cny", {"card_daily_count": 3}, "admin"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["currency"] == "CNY"
