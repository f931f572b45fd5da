"""The redemption API: declines are answers, store walls, one key takes value once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Request

from tests.cards_support import MERCHANT, balance_of, cny
from tests.redemption_support import Till, make_store, make_till
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


@pytest.fixture
async def world(
    database: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Till, str]]:
    async with database.transaction() as session:
        till = await make_till(session, clock.now(), amount=5_000)
        store_b = await make_store(session, MERCHANT, clock.now())
    CALLERS.clear()
    CALLERS["till_a"] = Principal(
        kind=PrincipalKind.MERCHANT,
        actor="key:till_a",
        roles=frozenset({"cashier"}),
        merchant_id=MERCHANT,
        store_id=till.store_id,
    )
    CALLERS["manager"] = Principal(
        kind=PrincipalKind.MERCHANT,
        actor="user:m",
        roles=frozenset({"merchant_admin"}),
        merchant_id=MERCHANT,
    )
    relaxed = settings.model_copy(update={"rate_limit_per_ip": "10000/second"})
    app = create_app(relaxed, database=database, clock=clock)
    app.dependency_overrides[authenticate] = _caller
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, till, store_b


async def post(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any],
    *,
    caller: str = "till_a",
    key: str | None = None,
) -> httpx.Response:
    headers = {"X-Test-Caller": caller, "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post(path, json=body, headers=headers)


def body(till: Till, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "amount": cny(amount),
        "cards": [{"number": till.number, "secret": till.secret}],
        **extra,
    }


async def test_approval_decline_read_and_refund(
    world: tuple[httpx.AsyncClient, Till, str], database: Database
) -> None:
    client, till, _ = world
    approved = await post(client, "/v1/redemptions", body(till, 3_000))
    assert approved.status_code == 200, approved.text
    answer = approved.json()
    assert (answer["status"], answer["taken"], answer["remaining"]) == (
        "approved",
        cny(3_000),
        cny(0),
    )
    declined = await post(client, "/v1/redemptions", body(till, 3_000))
    assert declined.status_code == 200
    assert (declined.json()["status"], declined.json()["decline_code"]) == (
        "declined",
        "insufficient_funds",
    )
    rid = answer["allocation"][0]["id"]
    listed = await client.get("/v1/redemptions", headers={"X-Test-Caller": "till_a"})
    assert {item["id"] for item in listed.json()["data"]} >= {rid}
    one = await client.get(f"/v1/redemptions/{rid}", headers={"X-Test-Caller": "till_a"})
    assert (one.status_code, one.json()["paid"]) == (200, cny(3_000))
    refunded = await post(client, f"/v1/redemptions/{rid}/refunds", {"amount": cny(1_000)})
    assert refunded.status_code == 201, refunded.text
    beyond = await post(client, f"/v1/redemptions/{rid}/refunds", {"amount": cny(2_001)})
    assert (beyond.status_code, beyond.json()["error"]["code"]) == (422, "refund_exceeds_redeemed")
    assert (await balance_of(database, till.card_id)).total == 3_000


async def test_a_till_of_store_a_cannot_redeem_for_store_b(
    world: tuple[httpx.AsyncClient, Till, str], database: Database
) -> None:
    client, till, store_b = world
    refused = await post(client, "/v1/redemptions", body(till, 100, store_id=store_b))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "store_not_allowed"
    assert (await balance_of(database, till.card_id)).total == 5_000


async def test_concurrent_duplicates_with_one_key_take_value_once(
    world: tuple[httpx.AsyncClient, Till, str], database: Database
) -> None:
    client, till, _ = world
    answers = await asyncio.gather(
        *(post(client, "/v1/redemptions", body(till, 1_000), key="dup") for _ in range(6))
    )
    ok = [a for a in answers if a.status_code == 200]
    assert ok
    assert all(a.status_code in (200, 409) for a in answers)
    assert len({a.json()["id"] for a in ok}) == 1
    assert (await balance_of(database, till.card_id)).total == 4_000


async def test_a_reversal_through_the_api_then_the_late_original(
    world: tuple[httpx.AsyncClient, Till, str], database: Database
) -> None:
    client, till, _ = world
    reversed_ = await post(client, "/v1/redemptions/reversals", {"idempotency_key": "lost"})
    assert (reversed_.status_code, reversed_.json()["outcome"]) == (200, "before_original")
    late = await post(client, "/v1/redemptions", body(till, 1_000), key="lost")
    assert (late.json()["status"], late.json()["decline_code"]) == ("declined", "reversed")
    assert (await balance_of(database, till.card_id)).total == 5_000


async def test_authorize_capture_void_over_http(
    world: tuple[httpx.AsyncClient, Till, str], database: Database
) -> None:
    client, till, _ = world
    held = await post(client, "/v1/authorizations", body(till, 2_000))
    assert held.status_code == 200, held.text
    aid = held.json()["allocation"][0]["id"]
    captured = await post(client, f"/v1/authorizations/{aid}/capture", {"amount": cny(1_500)})
    assert (captured.status_code, captured.json()["status"]) == (200, "captured"), captured.text
    again = await post(client, f"/v1/authorizations/{aid}/void", {})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "authorization_not_open")
    assert (await balance_of(database, till.card_id)).total == 3_500


async def test_void_and_reversal_use_the_apps_settings(
    world: tuple[httpx.AsyncClient, Till, str],
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handlers pass their settings (the platform's zone, for the limits' business
    date) like redeem does, instead of leaving aftercare to read the process's."""
    from tongka.redemption import aftercare

    def no_global_settings() -> None:
        raise AssertionError("aftercare read the process's settings")

    client, till, _ = world
    monkeypatch.setattr(aftercare, "get_settings", no_global_settings)
    held = await post(client, "/v1/authorizations", body(till, 2_000))
    assert held.status_code == 200, held.text
    aid = held.json()["allocation"][0]["id"]
    voided = await post(client, f"/v1/authorizations/{aid}/void", {})
    assert (voided.status_code, voided.json()["status"]) == (200, "voided")
    await post(client, "/v1/redemptions", body(till, 1_000), key="to-undo")
    undone = await post(client, "/v1/redemptions/reversals", {"idempotency_key": "to-undo"})
    assert undone.status_code == 200, undone.text
    assert (await balance_of(database, till.card_id)).total == 5_000
