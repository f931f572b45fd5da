"""Idempotency-Key: replay, refusal of reuse, failures not stored, expiry, concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.api_support import api_client, count_events, probe_router
from tongka.api.app import create_app
from tongka.api.idempotency import purge_expired
from tongka.api.models import IdempotencyRecord
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database

THING = "/v1/probe_things"


def probe_app(
    settings: Settings, database: Database, clock: FixedClock, behaviour: dict[str, Any]
) -> FastAPI:
    app = create_app(settings, database=database, clock=clock)
    app.include_router(probe_router(behaviour))
    return app


@pytest.fixture
def behaviour() -> dict[str, Any]:
    return {"failures": []}


@pytest.fixture
def app(
    settings: Settings, database: Database, clock: FixedClock, behaviour: dict[str, Any]
) -> FastAPI:
    return probe_app(settings, database, clock, behaviour)


async def count_records(database: Database) -> int:
    async with database.transaction() as session:
        statement = select(func.count()).select_from(IdempotencyRecord)
        return int(await session.scalar(statement) or 0)


async def test_post_without_key_is_refused_and_writes_nothing(
    app: FastAPI, database: Database
) -> None:
    async with api_client(app) as client:
        response = await client.post(THING, json={"name": "a"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request",
        "code": "idempotency_key_missing",
        "message": "This request needs an Idempotency-Key header.",
        "param": "Idempotency-Key",
    }
    assert await count_events(database) == 0
    assert await count_records(database) == 0


@pytest.mark.parametrize(
    ("key", "code"),
    [("", "idempotency_key_missing"), ("k" * 256, "idempotency_key_invalid")],
    ids=["blank", "too-long"],
)
async def test_blank_or_overlong_key_is_refused(
    app: FastAPI, database: Database, key: str, code: str
) -> None:
    async with api_client(app) as client:
        response = await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert await count_events(database) == 0
    assert await count_records(database) == 0


async def test_retry_replays_the_first_response_without_acting_again(
    app: FastAPI, database: Database
) -> None:
    async with api_client(app, authorization="Bearer key-one") as client:
        first = await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "k1"})
        retry = await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["content-type"] == "application/json"
    assert await count_events(database) == 1


async def test_synchronous_handlers_are_protected_too(
    app: FastAPI, behaviour: dict[str, Any]
) -> None:
    async with api_client(app) as client:
        responses = [
            await client.post(
                f"{THING}/plain", json={"name": "a"}, headers={"Idempotency-Key": "k1"}
            )
            for _ in range(2)
        ]
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[1].headers["idempotent-replayed"] == "true"
    assert behaviour["plain_calls"] == 1


async def test_same_key_with_another_body_is_refused(app: FastAPI, database: Database) -> None:
    async with api_client(app) as client:
        await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "k1"})
        reused = await client.post(THING, json={"name": "b"}, headers={"Idempotency-Key": "k1"})
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert reused.json()["error"]["param"] == "Idempotency-Key"
    assert await count_events(database) == 1


@pytest.mark.parametrize(
    "callers",
    [
        [{"Authorization": "Bearer key-one"}, {"Authorization": "Bearer key-two"}, {}],
        [{"Cookie": "tongka_session=one"}, {"Cookie": "tongka_session=two"}],
    ],
    ids=["api-keys-and-ip", "console-sessions"],
)
async def test_keys_are_scoped_per_caller(
    app: FastAPI, database: Database, callers: list[dict[str, str]]
) -> None:
    async with api_client(app) as client:
        for caller in callers:
            headers = {"Idempotency-Key": "shared", **caller}
            response = await client.post(THING, json={"name": "a"}, headers=headers)
            assert response.status_code == 201
            assert "idempotent-replayed" not in response.headers
    assert await count_events(database) == len(callers)


@pytest.mark.parametrize("failure", ["conflict", "crash", "unavailable"])
async def test_a_failed_request_is_not_stored_and_its_retry_runs_again(
    app: FastAPI, database: Database, behaviour: dict[str, Any], failure: str
) -> None:
    behaviour["failures"] = [failure]
    headers = {"Idempotency-Key": "k1"}
    async with api_client(app) as client:
        failed = await client.post(THING, json={"name": "a"}, headers=headers)
        assert failed.status_code in (409, 500, 503)
        events_after_failure = await count_events(database)
        retried = await client.post(THING, json={"name": "a"}, headers=headers)
    # a raised failure rolled its effect back; a returned 503 committed it but kept no record
    assert events_after_failure == (1 if failure == "unavailable" else 0)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert await count_events(database) == events_after_failure + 1
    assert await count_records(database) == 1


async def test_invalid_body_stores_nothing(app: FastAPI, database: Database) -> None:
    async with api_client(app) as client:
        response = await client.post(THING, json={"nam": "a"}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert await count_records(database) == 0


async def test_keys_expire_after_24_hours(
    app: FastAPI, database: Database, clock: FixedClock, settings: Settings
) -> None:
    headers = {"Idempotency-Key": "k1"}
    async with api_client(app) as client:
        await client.post(THING, json={"name": "a"}, headers=headers)
        clock.advance(timedelta(hours=24, seconds=1))
        # an expired key is new again, even for another body
        later = await client.post(THING, json={"name": "b"}, headers=headers)
    assert later.status_code == 201
    assert "idempotent-replayed" not in later.headers
    assert await count_events(database) == 2
    assert await count_records(database) == 1


async def test_concurrent_reuse_of_an_expired_key_has_one_effect(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    headers = {"Idempotency-Key": "k1"}
    async with api_client(app) as client:
        await client.post(THING, json={"name": "old"}, headers=headers)
        clock.advance(timedelta(hours=25))
        body = {"name": "new", "pause_seconds": 0.3}
        responses = await asyncio.gather(
            *(client.post(THING, json=body, headers=headers) for _ in range(3))
        )
    assert [r.status_code for r in responses] == [201] * 3
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 2
    assert {r.json()["name"] for r in responses} == {"new"}
    assert await count_events(database) == 2


async def test_purge_deletes_only_records_older_than_24_hours(
    app: FastAPI, database: Database, clock: FixedClock, settings: Settings
) -> None:
    async with api_client(app) as client:
        await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "old"})
        clock.advance(timedelta(hours=23))
        await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "new"})
    clock.advance(timedelta(hours=2))
    assert await purge_expired(database, clock, settings) == 1
    async with database.transaction() as session:
        keys = (await session.scalars(select(IdempotencyRecord.key))).all()
    assert keys == ["new"]


async def test_stored_responses_are_sealed(app: FastAPI, database: Database) -> None:
    async with api_client(app) as client:
        await client.post(THING, json={"name": "visible-name"}, headers={"Idempotency-Key": "k1"})
    async with database.transaction() as session:
        record = (await session.scalars(select(IdempotencyRecord))).one()
    assert record.status_code == 201
    assert record.sealed_body is not None
    assert b"visible-name" not in record.sealed_body
    assert record.caller.startswith("ip:")


async def test_concurrent_requests_with_one_key_have_one_effect(
    app: FastAPI, database: Database
) -> None:
    # given five identical requests in flight at once; the first holds its transaction open
    headers = {"Idempotency-Key": "race", "Authorization": "Bearer racer"}
    body = {"name": "a", "pause_seconds": 0.3}
    async with api_client(app) as client:
        responses = await asyncio.gather(
            *(client.post(THING, json=body, headers=headers) for _ in range(5))
        )
    # then exactly one ran; the others waited and replayed its response
    assert [response.status_code for response in responses] == [201] * 5
    assert len({response.text for response in responses}) == 1
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 4
    assert await count_events(database) == 1


@pytest.mark.pg
async def test_under_snapshot_isolation_a_concurrent_twin_gets_409(
    settings: Settings, pg_database: Database, clock: FixedClock, behaviour: dict[str, Any]
) -> None:
    # given PostgreSQL at REPEATABLE READ (the way distributed engines behave)
    database = Database(pg_database.engine.execution_options(isolation_level="REPEATABLE READ"))
    app = probe_app(settings, database, clock, behaviour)
    headers = {"Idempotency-Key": "race", "Authorization": "Bearer racer"}
    body = {"name": "a", "pause_seconds": 0.3}
    async with api_client(app) as client:
        # each holds its reservation uncommitted for a while; whichever reserves first wins
        responses = await asyncio.gather(
            client.post(THING, json=body, headers=headers),
            client.post(THING, json=body, headers=headers),
        )
        retry = await client.post(THING, json=body, headers=headers)
    # then one succeeds, its twin is told to retry, and the retry replays; one effect
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409]
    twin = next(response for response in responses if response.status_code == 409)
    assert twin.json()["error"]["code"] == "idempotency_request_in_progress"
    assert retry.headers["idempotent-replayed"] == "true"
    assert await count_events(database) == 1
