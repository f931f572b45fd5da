"""Rate limits: per verified API key (by hash) and per client IP, in memory or through Redis.

A credential earns its own bucket only once it has been verified; a junk bearer token or
session cookie counts against the client address like no credential at all.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from tests.api_support import api_client
from tests.factories import make_merchant_with_key
from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import Database

LIMITED = "/v1/nothing_here"  # any /v1 path counts, even one that answers 404
AUTHENTICATED = "/v1/events"  # verifies the key, so the key gets its own bucket


def limited_app(settings: Settings, database: Database, **limits: str) -> FastAPI:
    settings.rate_limit_per_key = limits.get("per_key", "3/minute")
    settings.rate_limit_per_ip = limits.get("per_ip", "2/minute")
    return create_app(settings, database=database)


async def test_a_key_over_its_limit_gets_429_with_retry_after(
    settings: Settings, sqlite_database: Database
) -> None:
    app = limited_app(settings, sqlite_database, per_ip="10/minute")
    merchant = await make_merchant_with_key(sqlite_database)
    async with api_client(app, authorization=f"Bearer {merchant.api_key}") as client:
        # the first request counts against the address; the key is verified from then on
        statuses = [(await client.get(AUTHENTICATED)).status_code for _ in range(4)]
        refused = await client.get(AUTHENTICATED)
    assert statuses == [200, 200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["type"] == "rate_limited"


async def test_keys_are_limited_separately_from_each_other_and_from_ips(
    settings: Settings, sqlite_database: Database
) -> None:
    app = limited_app(settings, sqlite_database, per_ip="4/minute")
    one = await make_merchant_with_key(sqlite_database)
    two = await make_merchant_with_key(sqlite_database, legal_name="另一商户有限公司")
    async with api_client(app) as client:
        for _ in range(4):  # one address hit, then three key hits: key one is used up
            await client.get(AUTHENTICATED, headers={"Authorization": f"Bearer {one.api_key}"})
        over = await client.get(AUTHENTICATED, headers={"Authorization": f"Bearer {one.api_key}"})
        other_key = await client.get(
            AUTHENTICATED, headers={"Authorization": f"Bearer {two.api_key}"}
        )
        anonymous = [(await client.get(LIMITED)).status_code for _ in range(3)]
    assert over.status_code == 429
    assert other_key.status_code == 200
    assert anonymous == [404, 404, 429]  # the address used 2 of its 4 for the keys' first hits


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda n: {"Authorization": f"Bearer junk-{n}"}, id="junk-bearer"),
        pytest.param(lambda n: {"Cookie": f"tongka_session=junk-{n}"}, id="junk-session-cookie"),
    ],
)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/consumer_sessions/codes", {"phone": "13800138000"}),
        ("/v1/consumer_sessions", {"phone": "13800138000", "code": "000000"}),
        ("/v1/balance_inquiries", {"number": "6200000000000000", "secret": "123456"}),
        (LIMITED, None),
    ],
)
async def test_a_made_up_credential_counts_against_the_address(
    settings: Settings,
    sqlite_database: Database,
    headers: Any,
    path: str,
    body: dict[str, str] | None,
) -> None:
    # given a per-IP limit of 2 a minute
    app = limited_app(settings, sqlite_database)
    # when one client sends a different junk credential with each request
    async with api_client(app) as client:
        statuses = []
        for n in range(3):
            request_headers = {"Idempotency-Key": f"k-{n}", **headers(n)}
            if body is None:
                response = await client.get(path, headers=request_headers)
            else:
                response = await client.post(path, json=body, headers=request_headers)
            statuses.append(response.status_code)
    # then the third is refused: the junk never bought a bucket of its own
    assert statuses[:2] != [429, 429]
    assert statuses[2] == 429


async def test_a_refused_key_never_earns_a_bucket(
    settings: Settings, sqlite_database: Database
) -> None:
    app = limited_app(settings, sqlite_database)
    async with api_client(app, authorization="Bearer tk_live_not_a_real_key") as client:
        statuses = [(await client.get(AUTHENTICATED)).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


async def test_health_is_not_limited(settings: Settings, sqlite_database: Database) -> None:
    app = limited_app(settings, sqlite_database)
    async with api_client(app) as client:
        statuses = {(await client.get("/v1/health")).status_code for _ in range(5)}
    assert statuses == {200}


async def test_the_key_itself_is_never_a_storage_key(
    settings: Settings, sqlite_database: Database
) -> None:
    app = limited_app(settings, sqlite_database)
    merchant = await make_merchant_with_key(sqlite_database)
    async with api_client(app, authorization=f"Bearer {merchant.api_key}") as client:
        await client.get(AUTHENTICATED)
        await client.get(AUTHENTICATED)
    limiter = next(m.kwargs["limiter"] for m in app.user_middleware if "limiter" in m.kwargs)
    stored = repr(vars(limiter.strategy.storage))
    assert merchant.api_key not in stored
    assert merchant.api_key.split("_")[-1] not in stored
    assert "key:" in stored


@pytest.mark.redis
async def test_redis_limits_hold_across_api_processes(
    settings: Settings, sqlite_database: Database, redis_url: str
) -> None:
    # given two API processes sharing one Redis
    settings.redis_url = redis_url
    settings.rate_limit_per_ip = f"{10 + uuid.uuid4().int % 1000}/minute"  # fresh address count
    first = limited_app(settings, sqlite_database, per_ip=settings.rate_limit_per_ip)
    second = limited_app(settings, sqlite_database, per_ip=settings.rate_limit_per_ip)
    key = f"Bearer {(await make_merchant_with_key(sqlite_database)).api_key}"
    # when one key spreads its requests over both (the first only verifies it)
    async with (
        api_client(first, authorization=key) as one,
        api_client(second, authorization=key) as two,
    ):
        statuses = [
            (await client.get(AUTHENTICATED)).status_code for client in (one, two, one, two)
        ]
        refused = await one.get(AUTHENTICATED)
    # then the limit counts them together, and the verification is shared too
    assert statuses == [200, 200, 200, 200]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_unreachable_redis_lets_requests_through(
    settings: Settings, sqlite_database: Database
) -> None:
    settings.redis_url = "redis://127.0.0.1:1/0"
    app = limited_app(settings, sqlite_database)
    async with api_client(app, authorization="Bearer key-one") as client:
        statuses = [(await client.get(LIMITED)).status_code for _ in range(4)]
    assert statuses == [404] * 4
