"""Every failure answers with the one error shape, and never with a stack trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from tests.api_support import api_client, count_events, probe_router
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database

THING = "/v1/probe_things"
KEY = {"Idempotency-Key": "k1"}


@pytest.fixture
def app(settings: Settings, sqlite_database: Database, clock: FixedClock) -> FastAPI:
    settings.max_request_body_bytes = 1000
    app = create_app(settings, database=sqlite_database, clock=clock)
    app.include_router(probe_router({"failures": []}))
    return app


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "code", "message", "param"}
    return body["error"]  # type: ignore[no-any-return]


async def test_malformed_json_is_400(app: FastAPI, sqlite_database: Database) -> None:
    async with api_client(app) as client:
        response = await client.post(
            THING, content=b'{"name": ', headers={**KEY, "content-type": "application/json"}
        )
    assert response.status_code == 400
    assert error_of(response) == {
        "type": "invalid_request",
        "code": "json_invalid",
        "message": "The request body is not valid JSON.",
        "param": None,
    }
    assert await count_events(sqlite_database) == 0


async def test_unknown_field_is_refused_by_name(app: FastAPI, sqlite_database: Database) -> None:
    async with api_client(app) as client:
        response = await client.post(THING, json={"name": "a", "colour": "red"}, headers=KEY)
    assert response.status_code == 422
    assert error_of(response) == {
        "type": "invalid_request",
        "code": "unknown_field",
        "message": "colour: Unknown field; check the spelling.",
        "param": "colour",
    }
    assert await count_events(sqlite_database) == 0


async def test_validation_error_names_the_field(app: FastAPI) -> None:
    async with api_client(app) as client:
        response = await client.post(THING, json={"name": ["not", "a", "string"]}, headers=KEY)
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["param"]) == ("validation_failed", "name")
    assert error["message"].startswith("name: ")


async def test_declared_oversized_body_is_413_before_reading(app: FastAPI) -> None:
    async with api_client(app) as client:
        response = await client.post(THING, json={"name": "a" * 2000}, headers=KEY)
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"


async def test_streamed_oversized_body_is_cut_off(app: FastAPI, sqlite_database: Database) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(50):
            yield b"a" * 100
        yield b'"}'

    async with api_client(app) as client:
        response = await client.post(
            THING, content=chunks(), headers={**KEY, "content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"
    assert await count_events(sqlite_database) == 0


async def test_wrong_method_is_405(app: FastAPI) -> None:
    async with api_client(app) as client:
        response = await client.delete(THING)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


async def test_unexpected_exception_reveals_nothing(app: FastAPI) -> None:
    async with api_client(app) as client:
        response = await client.get("/v1/probe_things/crash")
    assert response.status_code == 500
    assert error_of(response) == {
        "type": "api_error",
        "code": "internal_error",
        "message": "An internal error occurred. It has been logged; please retry later.",
        "param": None,
    }
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
