"""Rate limits: per API key (by hash) and per client IP, in memory or shared through Redis."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI

from tests.api_support import api_client
from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import Database

LIMITED = "/v1/nothing_here"  # any /v1 path counts, even one that answers 404


def limited_app(settings: Settings, database: Database, **limits: str) -> FastAPI:
    settings.rate_limit_per_key = limits.get("per_key", "3/minute")
    settings.rate_limit_per_ip = limits.get("per_ip", "2/minute")
    return create_app(settings, database=database)


async def test_a_key_over_its_limit_gets_429_with_retry_after(
    settings: Settings, sqlite_database: Database
) -> None:
    app = limited_app(settings, sqlite_database)
    async with api_client(app, authorization="Bearer key-one") as client:
        statuses = [(await client.get(LIMITED)).status_code for _ in range(3)]
        refused = await client.get(LIMITED)
    assert statuses == [404, 404, 404]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["type"] == "rate_limited"


async def test_keys_are_limited_separately_from_each_other_and_from_ips(
    settings: Settings, sqlite_database: Database
) -> None:
    app = limited_app(settings, sqlite_database)
    async with api_client(app) as client:
        for _ in range(3):
            await client.get(LIMITED, headers={"Authorization": "Bearer key-one"})
        other_key = await client.get(LIMITED, headers={"Authorization": "Bearer key-two"})
        anonymous = [(await client.get(LIMITED)).status_code for _ in range(3)]
    assert other_key.status_code == 404
    assert anonymous == [404, 404, 429]  # the per-IP limit is 2/minute


async def test_health_is_not_limited(settings: Settings, sqlite_database: Database) -> None:
    app = limited_app(settings, sqlite_database)
    async with api_client(app) as client:
        statuses = {(await client.get("/v1/health")).status_code for _ in range(5)}
    assert statuses == {200}


async def test_the_key_itself_is_never_a_storage_key(
    settings: Settings, sqlite_database: Database
) -> None:
    app = limited_app(settings, sqlite_database)
    async with api_client(app, authorization="Bearer tk_live_supersecret") as client:
        await client.get(LIMITED)
    limiter = next(m.kwargs["limiter"] for m in app.user_middleware if "limiter" in m.kwargs)
    stored = repr(vars(limiter.strategy.storage))
    assert "supersecret" not in stored
    assert "key:" in stored


@pytest.mark.redis
async def test_redis_limits_hold_across_api_processes(
    settings: Settings, sqlite_database: Database, redis_url: str
) -> None:
    # given two API processes sharing one Redis
    settings.redis_url = redis_url
    first = limited_app(settings, sqlite_database)
    second = limited_app(settings, sqlite_database)
    key = f"Bearer redis-test-{uuid.uuid4().hex}"
    # when one key spreads its requests over both
    async with (
        api_client(first, authorization=key) as one,
        api_client(second, authorization=key) as two,
    ):
        statuses = [(await client.get(LIMITED)).status_code for client in (one, two, one)]
        refused = await two.get(LIMITED)
    # then the limit counts them together
    assert statuses == [404, 404, 404]
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
