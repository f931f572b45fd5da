"""A request's unit of work is re-run on a fresh transaction when the database asks for it
(serialization failure, deadlock, SQLite busy), a bounded number of times, then 503 —
never 500 (issue #9). The failures are real PostgreSQL errors, raised once by a trigger
(a sequence, which no rollback resets, counts the attempts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select

from tests.api_support import api_client, count_events, probe_router
from tongka.api.app import create_app
from tongka.api.models import IdempotencyRecord
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.deps import REQUEST_ATTEMPTS, UnitOfWorkRoute, get_session

THING = "/v1/probe_things"


@pytest.fixture
def app(settings: Settings, pg_database: Database, clock: FixedClock) -> FastAPI:
    app = create_app(settings, database=pg_database, clock=clock)
    app.include_router(probe_router({"failures": []}))
    return app


async def _fail_events(database: Database, *, failures: int, at_commit: bool) -> None:
    """The next ``failures`` transactions that record an event fail with 40001, at the
    insert or (a deferred constraint trigger) while committing."""
    timing = "DEFERRABLE INITIALLY DEFERRED" if at_commit else ""
    kind = "CONSTRAINT TRIGGER" if at_commit else "TRIGGER"
    statements = [
        "DROP TRIGGER IF EXISTS fail_events ON events",
        "DROP SEQUENCE IF EXISTS event_failures",
        "CREATE SEQUENCE event_failures",
        "CREATE OR REPLACE FUNCTION fail_events() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF nextval('event_failures') <= {failures} THEN RAISE EXCEPTION"
        " 'injected' USING ERRCODE = 'serialization_failure'; END IF; RETURN NULL; END $$",
        f"CREATE {kind} fail_events AFTER INSERT ON events {timing}"
        " FOR EACH ROW EXECUTE FUNCTION fail_events()",
    ]
    async with database.engine.begin() as connection:
        for statement in statements:
            await connection.exec_driver_sql(statement)


@pytest.fixture
async def failing_events(pg_database: Database) -> AsyncIterator[None]:
    yield
    async with pg_database.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TRIGGER IF EXISTS fail_events ON events")
        await connection.exec_driver_sql("DROP FUNCTION IF EXISTS fail_events")
        await connection.exec_driver_sql("DROP SEQUENCE IF EXISTS event_failures")


async def _attempts(database: Database) -> int:
    async with database.engine.connect() as connection:
        result = await connection.exec_driver_sql("SELECT last_value FROM event_failures")
        return int(result.scalar_one())


async def _records(database: Database) -> int:
    async with database.transaction() as session:
        statement = select(func.count()).select_from(IdempotencyRecord)
        return int(await session.scalar(statement) or 0)


@pytest.mark.pg
@pytest.mark.usefixtures("failing_events")
@pytest.mark.parametrize("at_commit", [False, True], ids=["in-the-handler", "at-commit"])
async def test_a_serialization_failure_is_retried_and_the_stored_response_is_the_retrys(
    app: FastAPI, pg_database: Database, at_commit: bool
) -> None:
    # given: the first attempt's transaction fails with 40001
    await _fail_events(pg_database, failures=1, at_commit=at_commit)
    # when
    async with api_client(app, authorization="Bearer key-one") as client:
        first = await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "k"})
        replay = await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "k"})
    # then: the retry succeeded, once; its response is the one stored with the key
    assert first.status_code == 201, first.text
    assert await _attempts(pg_database) == 2
    assert await count_events(pg_database) == 1
    assert await _records(pg_database) == 1
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()


@pytest.mark.pg
@pytest.mark.usefixtures("failing_events")
async def test_a_request_that_keeps_failing_gets_503_and_changes_nothing(
    app: FastAPI, pg_database: Database
) -> None:
    await _fail_events(pg_database, failures=REQUEST_ATTEMPTS, at_commit=True)
    async with api_client(app, authorization="Bearer key-one") as client:
        answer = await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "k"})
        # and a retry after that runs afresh
        retry = await client.post(THING, json={"name": "a"}, headers={"Idempotency-Key": "k"})
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "retry_later"
    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers
    assert await count_events(pg_database) == 1


def test_every_route_that_takes_a_session_is_retried_as_a_unit(settings: Settings) -> None:
    app = create_app(settings)

    def takes_session(dependant: Any) -> bool:
        return any(d.call is get_session or takes_session(d) for d in dependant.dependencies)

    routes = [context.original_route for context in iter_route_contexts(app.routes)]
    with_session = [r for r in routes if isinstance(r, APIRoute) and takes_session(r.dependant)]
    assert len(with_session) > 50
    assert [r.path for r in with_session if not isinstance(r, UnitOfWorkRoute)] == []
