"""GET /v1/events: scoped to the caller's merchant, filtered, paginated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from tests.api_support import Callers, api_client, bearer, emit_event, make_callers
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database

PROBE = "probe.happened"  # a type no other part records, so the lists hold only ours


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
async def callers(database: Database) -> Callers:
    return await make_callers(database)


async def emit(
    database: Database, clock: FixedClock, merchant_id: str | None, type: str = PROBE
) -> str:
    event_id = await emit_event(database, clock, type=type, merchant_id=merchant_id, data={"n": 1})
    clock.advance(timedelta(minutes=1))
    return event_id


async def test_a_merchant_lists_only_its_own_events(
    app: FastAPI, database: Database, clock: FixedClock, callers: Callers
) -> None:
    own = await emit(database, clock, callers.merchant_a.merchant_id)
    theirs = await emit(database, clock, callers.merchant_b.merchant_id)
    platform_only = await emit(database, clock, None)
    async with api_client(app) as client:
        merchant = await client.get(
            "/v1/events", params={"type": PROBE}, headers=bearer(callers.merchant_a.api_key)
        )
        everything = await client.get(
            "/v1/events", params={"limit": 100}, headers=bearer(callers.merchant_a.api_key)
        )
        platform = await client.get(
            "/v1/events", params={"type": PROBE}, headers=bearer(callers.platform)
        )
    assert merchant.status_code == 200
    assert merchant.json() == {
        "object": "list",
        "data": [
            {
                "object": "event",
                "id": own,
                "type": PROBE,
                "created_at": "2026-01-01T00:00:00Z",
                "data": {"n": 1},
                "object_type": "card",
                "object_id": "card_1",
                "merchant_id": callers.merchant_a.merchant_id,
            }
        ],
        "has_more": False,
    }
    assert {event["merchant_id"] for event in everything.json()["data"]} == {
        callers.merchant_a.merchant_id
    }
    assert [e["id"] for e in platform.json()["data"]] == [platform_only, theirs, own]


async def test_filters_and_pages(
    app: FastAPI, database: Database, clock: FixedClock, callers: Callers
) -> None:
    merchant_id = callers.merchant_a.merchant_id
    ids = [await emit(database, clock, merchant_id) for _ in range(3)]
    other_type = await emit(database, clock, merchant_id, type="probe.other")
    async with api_client(app, **bearer(callers.merchant_a.api_key)) as client:
        first = (await client.get("/v1/events", params={"type": PROBE, "limit": 2})).json()
        after = first["data"][-1]["id"]
        params = {"type": PROBE, "limit": 2, "starting_after": after}
        second = (await client.get("/v1/events", params=params)).json()
        recent = (
            await client.get("/v1/events", params={"created_gte": "2026-01-01T00:02:00Z"})
        ).json()
    assert [e["id"] for e in first["data"]] == [ids[2], ids[1]]
    assert first["has_more"] is True
    assert [e["id"] for e in second["data"]] == [ids[0]]
    assert second["has_more"] is False
    assert [e["id"] for e in recent["data"]] == [other_type, ids[2]]


async def test_another_merchants_event_is_not_found(
    app: FastAPI, database: Database, clock: FixedClock, callers: Callers
) -> None:
    theirs = await emit(database, clock, callers.merchant_b.merchant_id)
    async with api_client(app) as client:
        hidden = await client.get(
            f"/v1/events/{theirs}", headers=bearer(callers.merchant_a.api_key)
        )
        visible = await client.get(
            f"/v1/events/{theirs}", headers=bearer(callers.merchant_b.api_key)
        )
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "event_not_found"
    assert visible.json()["id"] == theirs


async def test_cashiers_and_strangers_may_not_read_events(app: FastAPI, callers: Callers) -> None:
    async with api_client(app) as client:
        cashier = await client.get("/v1/events", headers=bearer(callers.cashier_a))
        stranger = await client.get("/v1/events", headers=bearer("tk_unknown"))
    assert cashier.status_code == 403
    assert cashier.json()["error"]["type"] == "permission_denied"
    assert stranger.status_code == 401
