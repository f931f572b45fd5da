"""Consumer sign-in over HTTP, on SQLite and PostgreSQL: codes, sessions, ``/v1/consumers/me``,
and a consumer's token reaching nothing of merchants or the platform."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.factories import (
    TEST_PASSWORD,
    api_client,
    make_consumer_with_token,
    make_merchant_with_key,
    make_platform_key,
    read_sandbox_code,
)
from tests.integration.test_tenant_scoping import UNKNOWN_ID, _snapshot
from tests.scoping_samples import example_body
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.models import ConsumerLoginCode

PHONE = "13812345678"
# Routes a consumer may call: public ones (sign-in, merchant registration), their profile.
CONSUMER_ROUTES = {
    ("POST", "/v1/consumer_sessions/codes"),
    ("POST", "/v1/consumer_sessions"),
    ("GET", "/v1/consumers/me"),
    ("DELETE", "/v1/consumer_sessions/current"),
    ("POST", "/v1/merchants"),
    ("GET", "/v1/health"),
    ("GET", "/v1/cards"),  # a holder lists the cards they hold
    ("POST", "/v1/balance_inquiries"),  # public: number + secret, no sign-in needed
    ("POST", "/v1/holder_bindings/confirm"),  # a holder accepts a card (the texted code)
    ("GET", "/v1/orders"),  # a holder lists their own orders
    ("POST", "/v1/orders"),  # a holder buys or tops up a card (its test: test_orders_api)
    ("GET", "/v1/card_returns"),  # a holder's own card returns (test_card_returns_api)
    ("POST", "/v1/card_returns"),  # a holder returns a named card (退卡)
    ("POST", "/v1/card_returns/{return_id}/retries"),  # another account after a 退票
}
# Bodies that pass validation, so the refusal comes from the authorization checks.
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/users"): {
        "email": "intruder@example.com",
        "display_name": "Intruder",
        "role": "cashier",
        "password": TEST_PASSWORD,
    },
}


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


async def _sign_in(app: FastAPI, database: Database, phone: str = PHONE) -> dict[str, Any]:
    async with api_client(app) as client:
        sent = await client.post("/v1/consumer_sessions/codes", json={"phone": phone})
        assert sent.status_code == 202, sent.text
        code = await read_sandbox_code(database, phone)
        response = await client.post("/v1/consumer_sessions", json={"phone": phone, "code": code})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sign_in_with_a_code_and_read_the_own_profile_masked(
    app: FastAPI, database: Database
) -> None:
    session = await _sign_in(app, database)
    assert session["object"] == "consumer_session"
    assert session["token"].startswith("tk_con_")
    assert session["expires_at"] == "2026-01-01T12:00:00Z"
    consumer = session["consumer"]
    assert consumer["phone"] == "138****5678"
    assert (consumer["kyc_level"], consumer["kyc_level_name"]) == (1, "phone")
    async with api_client(app, session["token"]) as holder:
        me = await holder.get("/v1/consumers/me")
    assert me.status_code == 200
    assert me.json() == consumer
    assert PHONE not in me.text


async def test_the_code_request_answers_the_same_for_known_and_unknown_phones(
    app: FastAPI, database: Database
) -> None:
    await make_consumer_with_token(database, phone="13900001111")
    async with api_client(app) as client:
        known = await client.post("/v1/consumer_sessions/codes", json={"phone": "13900001111"})
        unknown = await client.post("/v1/consumer_sessions/codes", json={"phone": "13900002222"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == {
        "object": "consumer_login_code",
        "phone": "139****1111",
        "expires_at": "2026-01-01T00:05:00Z",
        "resend_after_seconds": 60,
    }
    assert unknown.json() == {**known.json(), "phone": "139****2222"}


async def test_a_wrong_code_is_refused_and_the_attempt_still_counts(
    app: FastAPI, database: Database
) -> None:
    async with api_client(app) as client:
        await client.post("/v1/consumer_sessions/codes", json={"phone": PHONE})
        code = await read_sandbox_code(database, PHONE)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        refused = await client.post("/v1/consumer_sessions", json={"phone": PHONE, "code": wrong})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "login_code_invalid"
    assert refused.json()["error"]["param"] == "code"
    async with database.transaction() as session:
        login_code = await session.scalar(select(ConsumerLoginCode))
    assert login_code is not None
    assert login_code.failed_attempts == 1  # committed despite the 401


async def test_asking_again_too_soon_is_429_with_retry_after(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    async with api_client(app) as client:
        await client.post("/v1/consumer_sessions/codes", json={"phone": PHONE})
        clock.advance(timedelta(seconds=15))
        again = await client.post("/v1/consumer_sessions/codes", json={"phone": PHONE})
    assert again.status_code == 429
    assert again.headers["retry-after"] == "45"
    assert again.json()["error"]["code"] == "login_code_rate_limited"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": PHONE, "extra": 1}, "extra"),
        ({"phone": "+44 7700 900123"}, "phone"),
    ],
    ids=["too-short", "unknown-field", "not-mainland"],
)
async def test_bad_code_requests_are_refused_and_change_nothing(
    app: FastAPI, database: Database, body: dict[str, Any], param: str
) -> None:
    before = await _snapshot(database)
    async with api_client(app) as client:
        response = await client.post("/v1/consumer_sessions/codes", json=body)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["param"] == param
    assert await _snapshot(database) == before


async def test_production_without_an_sms_gateway_answers_503(
    settings: Settings, database: Database, clock: FixedClock
) -> None:
    production = settings.model_copy(update={"environment": "production"})
    app = create_app(production, database=database, clock=clock)
    async with api_client(app) as client:
        response = await client.post("/v1/consumer_sessions/codes", json={"phone": PHONE})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sms_not_configured"


async def test_an_expired_consumer_token_is_refused(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    holder = await make_consumer_with_token(database)
    clock.advance(timedelta(hours=2))
    async with api_client(app, holder.token) as client:
        response = await client.get("/v1/consumers/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"


async def test_signing_out_ends_the_token_at_once(app: FastAPI, database: Database) -> None:
    holder = await make_consumer_with_token(database)
    async with api_client(app, holder.token) as client:
        ended = await client.delete("/v1/consumer_sessions/current")
        after = await client.get("/v1/consumers/me")
    assert ended.status_code == 204
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "session_expired"


async def test_merchants_and_operators_have_no_consumer_profile(
    app: FastAPI, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    platform_key = await make_platform_key(database)
    for key in (merchant.api_key, platform_key):
        async with api_client(app, key) as client:
            assert (await client.get("/v1/consumers/me")).status_code == 403
            assert (await client.delete("/v1/consumer_sessions/current")).status_code == 403


async def test_a_consumer_token_reaches_no_merchant_or_platform_endpoint(
    settings: Settings, database: Database, clock: FixedClock
) -> None:
    """Every other ``/v1`` route answers a consumer 403 (wrong kind of caller) or 404 (an
    object they cannot see), and nothing changes."""
    # the walk sends hundreds of requests a second with one token: the rate limit is not its
    # subject (test_rate_limits is)
    unlimited = settings.model_copy(update={"rate_limit_per_key": "100000/second"})
    app = create_app(unlimited, database=database, clock=clock)
    document = app.openapi()
    holder = await make_consumer_with_token(database)
    await make_merchant_with_key(database, with_store=True)
    routes = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/v1/")
        for method in operations
        if (method.upper(), path) not in CONSUMER_ROUTES
    ]
    before = await _snapshot(database)
    answers = {}
    async with api_client(app, holder.token) as client:
        for method, path in routes:
            target = re.sub(r"\{[^}]+\}", UNKNOWN_ID, path)
            body = VALID_BODIES.get((method, path)) or example_body(document, method, path)
            response = await client.request(method, target, json=body)
            answers[f"{method} {path}"] = response.status_code
    assert len(answers) >= 10
    assert {route: status for route, status in answers.items() if status not in (403, 404)} == {}
    assert await _snapshot(database) == before
