"""GET /v1/events: scoped to the caller's merchant, filtered, paginated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from tests.api_support import api_client, authenticate_test_principals, bearer, emit_event
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    app = create_app(settings, database=database, clock=clock)
    authenticate_test_principals(app)
    return app


async def emit(database: Database, clock: FixedClock, type: str, merchant_id: str | None) -> str:
    event_id = await emit_event(database, clock, type=type, merchant_id=merchant_id, data={"n": 1})
    clock.advance(timedelta(minutes=1))
    return event_id


async def test_a_merchant_lists_only_its_own_events(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    own = await emit(database, clock, "card.frozen", "mch_a")
    await emit(database, clock, "card.frozen", "mch_b")
    await emit(database, clock, "platform.sealed", None)
    async with api_client(app) as client:
        merchant = await client.get("/v1/events", headers=bearer("merchant-a"))
        platform = await client.get("/v1/events", headers=bearer("platform"))
    assert merchant.status_code == 200
    assert merchant.json() == {
        "object": "list",
        "data": [
            {
                "object": "event",
                "id": own,
                "type": "card.frozen",
                "created_at": "2026-01-01T00:00:00Z",
                "data": {"n": 1},
                "object_type": "card",
                "object_id": "card_1",
                "merchant_id": "mch_a",
            }
        ],
        "has_more": False,
    }
    assert len(platform.json()["data"]) == 3


async def test_filters_and_pages(app: FastAPI, database: Database, clock: FixedClock) -> None:
    ids = [await emit(database, clock, "card.frozen", "mch_a") for _ in range(3)]
    other_type = await emit(database, clock, "card.activated", "mch_a")
    async with api_client(app, **bearer("merchant-a")) as client:
        first = (await client.get("/v1/events", params={"type": "card.frozen", "limit": 2})).json()
        second = (
            await client.get(
                "/v1/events",
                params={
                    "type": "card.frozen",
                    "limit": 2,
                    "starting_after": first["data"][-1]["id"],
                },
            )
        ).json()
        recent = (
            await client.get("/v1/events", params={"created_gte": "2026-01-01T00:02:00Z"})
        ).json()
    assert [e["id"] for e in first["data"]] == [ids[2], ids[1]]
    assert first["has_more"] is True
    assert [e["id"] for e in second["data"]] == [ids[0]]
    assert second["has_more"] is False
    assert [e["id"] for e in recent["data"]] == [other_type, ids[2]]


async def test_another_merchants_event_is_not_found(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    theirs = await emit(database, clock, "card.frozen", "mch_b")
    async with api_client(app) as client:
        hidden = await client.get(f"/v1/events/{theirs}", headers=bearer("merchant-a"))
        visible = await client.get(f"/v1/events/{theirs}", headers=bearer("merchant-b"))
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "event_not_found"
    assert visible.json()["id"] == theirs


async def test_cashiers_and_strangers_may_not_read_events(app: FastAPI) -> None:
    async with api_client(app) as client:
        cashier = await client.get("/v1/events", headers=bearer("cashier-a"))
        stranger = await client.get("/v1/events", headers=bearer("nobody"))
    assert cashier.status_code == 403
    assert cashier.json()["error"]["type"] == "permission_denied"
    assert stranger.status_code == 401
