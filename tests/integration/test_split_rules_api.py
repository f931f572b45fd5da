"""``/v1/split_rules``: platform finance writes a pair's rule (a repeat changes nothing, a
bad rule is refused with ``split_invalid``); a merchant reads only the rules it is part of."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Request

from tests.cards_support import ensure_merchant
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import authenticate
from tongka.errors import AuthenticationFailed
from tongka.identity.principal import Principal, PrincipalKind

RULE = {
    "shares": [
        {"party": "issuer", "percent": "0.7", "cap_percent": "0.3"},
        {"party": "acceptor", "percent": "0.3"},
    ],
    "excess_party": "acceptor",
}
BODY = {"issuer_merchant_id": "mch_a", "acceptor_merchant_id": "mch_b", "rule": RULE}


def _merchant(merchant_id: str, role: str) -> Principal:
    return Principal(
        kind=PrincipalKind.MERCHANT,
        actor=f"key:{merchant_id}:{role}",
        roles=frozenset({role}),
        merchant_id=merchant_id,
    )


CALLERS = {
    "finance": Principal(
        kind=PrincipalKind.PLATFORM, actor="key:finance", roles=frozenset({"finance"})
    ),
    "support": Principal(
        kind=PrincipalKind.PLATFORM, actor="key:support", roles=frozenset({"support"})
    ),
    "issuer": _merchant("mch_a", "merchant_admin"),
    "outsider": _merchant("mch_c", "merchant_admin"),
}


@pytest.fixture
async def client(
    database: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    async with database.transaction() as session:
        for merchant_id in ("mch_a", "mch_b", "mch_c"):
            await ensure_merchant(session, merchant_id, clock.now())

    def caller(request: Request) -> Principal:
        name = request.headers.get("X-Test-Caller", "")
        if name not in CALLERS:
            raise AuthenticationFailed("Missing or invalid credentials.")
        return CALLERS[name]

    relaxed = settings.model_copy(update={"rate_limit_per_ip": "10000/second"})
    app = create_app(relaxed, database=database, clock=clock)
    app.dependency_overrides[authenticate] = caller
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _as(name: str) -> dict[str, str]:
    return {"X-Test-Caller": name}


async def test_finance_writes_and_parties_read(client: httpx.AsyncClient) -> None:
    first = await client.put("/v1/split_rules", json=BODY, headers=_as("finance"))
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    assert first.json()["rule"]["shares"][0]["cap_percent"] == "0.3"
    again = await client.put("/v1/split_rules", json=BODY, headers=_as("finance"))
    assert again.json()["id"] == first.json()["id"]  # a repeated PUT changes nothing
    changed = {**BODY, "rule": {"shares": [{"party": "issuer", "percent": "1"}]}}
    second = await client.put("/v1/split_rules", json=changed, headers=_as("finance"))
    assert second.json()["version"] == 2
    for name, count in (("finance", 2), ("support", 2), ("issuer", 2), ("outsider", 0)):
        listed = await client.get("/v1/split_rules", headers=_as(name))
        assert listed.status_code == 200
        assert len(listed.json()["data"]) == count, name


async def test_only_platform_finance_writes_and_bad_rules_are_refused(
    client: httpx.AsyncClient,
) -> None:
    for name in ("support", "issuer"):
        response = await client.put("/v1/split_rules", json=BODY, headers=_as(name))
        assert response.status_code == 403, name
    bad = {**BODY, "rule": {"shares": [{"party": "bank", "percent": "1"}]}}
    response = await client.put("/v1/split_rules", json=bad, headers=_as("finance"))
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == "split_invalid"
    same = {**BODY, "acceptor_merchant_id": "mch_a"}
    response = await client.put("/v1/split_rules", json=same, headers=_as("finance"))
    assert response.json()["error"]["code"] == "split_invalid"
    unknown = {**BODY, "issuer_merchant_id": "mch_nobody"}
    response = await client.put("/v1/split_rules", json=unknown, headers=_as("finance"))
    assert response.status_code == 404
