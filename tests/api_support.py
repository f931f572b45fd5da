"""Helpers for API tests: an HTTP client over the ASGI app, and a probe router.

The probe router exercises the API conventions (idempotency, errors, limits) without
depending on any business feature.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from tests.factories import (
    DEFAULT_NOW,
    TEST_KEYS,
    MerchantWithKey,
    make_merchant_with_key,
    make_platform_key,
)
from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.clock import Clock
from tongka.db import Database
from tongka.edge.deps import ClockDep, SessionDep
from tongka.edge.schemas import RequestModel
from tongka.errors import Conflict
from tongka.events import record_event
from tongka.events.models import Event
from tongka.identity import service as identity


@asynccontextmanager
async def api_client(app: FastAPI, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``app``; server errors come back as responses (as a real client sees)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as client:
        yield client


class ThingIn(RequestModel):
    name: str
    pause_seconds: float = 0.0


def probe_router(behaviour: dict[str, Any]) -> APIRouter:
    """``POST /v1/probe_things`` records an event; ``behaviour`` scripts failures for tests."""
    router = APIRouter(route_class=IdempotentRoute, responses=ERROR_RESPONSES)

    @router.post("/v1/probe_things", status_code=201)
    async def create_thing(body: ThingIn, session: SessionDep, clock: ClockDep) -> dict[str, Any]:
        event = await record_event(
            session,
            type="probe.created",
            object_type="probe",
            object_id=body.name,
            actor="test",
            now=clock.now(),
            data={"name": body.name},
        )
        if body.pause_seconds:
            await asyncio.sleep(body.pause_seconds)
        failures = behaviour.get("failures", [])
        if failures:
            failure = failures.pop(0)
            if failure == "conflict":
                raise Conflict("scripted conflict", code="scripted")
            if failure == "crash":
                raise RuntimeError("scripted crash with secret detail")
            if failure == "unavailable":
                return JSONResponse({"error": "unavailable"}, status_code=503)  # type: ignore[return-value]
        return {"id": event.id, "name": body.name}

    @router.post("/v1/probe_things/plain", status_code=201)
    def create_plain_thing(body: ThingIn) -> dict[str, str]:
        """A synchronous handler: idempotency must work for those too."""
        behaviour["plain_calls"] = behaviour.get("plain_calls", 0) + 1
        return {"name": body.name}

    @router.get("/v1/probe_things/crash")
    async def crash() -> None:
        raise RuntimeError("database password is hunter2")

    return router


async def count_events(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Event)) or 0)


@dataclass(frozen=True)
class Callers:
    """Real API keys: two merchants' full keys, a cashier key of A, a platform admin key."""

    merchant_a: MerchantWithKey
    merchant_b: MerchantWithKey
    cashier_a: str
    platform: str


async def make_callers(database: Database) -> Callers:
    merchant_a = await make_merchant_with_key(database, legal_name="商户甲")
    async with database.transaction() as session:
        cashier = await identity.create_api_key(
            session,
            TEST_KEYS,
            name="till",
            role="cashier",
            merchant_id=merchant_a.merchant_id,
            actor="test",
            now=DEFAULT_NOW,
        )
    return Callers(
        merchant_a=merchant_a,
        merchant_b=await make_merchant_with_key(database, legal_name="商户乙"),
        cashier_a=cashier.secret,
        platform=await make_platform_key(database),
    )


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


async def emit_event(
    database: Database,
    clock: Clock,
    *,
    type: str = "card.frozen",
    merchant_id: str | None = "mch_a",
    data: dict[str, Any] | None = None,
) -> str:
    """Record one event about ``card_1`` in its own transaction; returns its id."""
    async with database.transaction() as session:
        event = await record_event(
            session,
            type=type,
            object_type="card",
            object_id="card_1",
            actor="test",
            now=clock.now(),
            merchant_id=merchant_id,
            data=data,
        )
    return event.id
