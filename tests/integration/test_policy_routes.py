"""Every API route declares its action (``Authorized``) or says it is public (``Public``);
store-bound cashier keys run a till and nothing more (issue #9, High 1)."""

from __future__ import annotations

from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select

from tests.cards_support import active_product, issue
from tests.factories import TEST_KEYS, api_client, make_merchant_with_key
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.identity import service as identity
from tongka.policy import Action


def declarations(dependant: Dependant) -> list[Any]:
    """The policy markers among a route's dependencies (nested ones included)."""
    found = []
    for dependency in dependant.dependencies:
        call = dependency.call
        if hasattr(call, "policy_action") or hasattr(call, "policy_public"):
            found.append(call)
        found += declarations(dependency)
    return found


def _is_console(path: str) -> bool:
    return path == "/" or path.startswith(("/console", "/static"))


def route_policies(settings: Settings, database: Database) -> dict[tuple[str, str], Any]:
    """(method, path) -> the route's ``Action``, or ``None`` for a public route."""
    app = create_app(settings, database=database)
    policies: dict[tuple[str, str], Any] = {}
    undeclared = []
    for context in iter_route_contexts(app.routes):
        route = context.route
        if not isinstance(route, APIRoute) or _is_console(context.path_format):
            continue  # the console's pages: tests/integration/test_console_policy.py
        found = declarations(route.dependant)
        for method in route.methods:
            if len(found) != 1:
                undeclared.append(f"{method} {context.path_format}: {len(found)} declarations")
                continue
            policies[(method, context.path_format)] = getattr(found[0], "policy_action", None)
    assert undeclared == [], undeclared
    return policies


def test_every_route_declares_one_action_or_public(settings: Settings, tmp_path: Any) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    policies = route_policies(settings, database)
    assert policies[("POST", "/v1/cards/{card_id}/reissue")] is Action.CARD_REISSUE
    assert policies[("POST", "/v1/cards/{card_id}/freeze")] is Action.CARD_FREEZE
    assert policies[("GET", "/v1/health")] is None
    assert policies[("GET", "/metrics")] is None
    assert len(policies) >= 50


async def _store_bound_setup(database: Database, clock: FixedClock) -> dict[str, Any]:
    owner = await make_merchant_with_key(database, with_store=True)
    now = clock.now()
    async with database.transaction() as session:
        other_store = await identity.create_store(
            session,
            merchant_id=owner.merchant_id,
            name="另一门店",
            address="上海市徐汇区1号",
            city="上海",
            actor="test",
            now=now,
        )
        for store_id, device in ((owner.store_id, "POS-A"), (other_store.id, "POS-B")):
            assert store_id is not None
            await identity.create_terminal(
                session,
                merchant_id=owner.merchant_id,
                store_id=store_id,
                device_id=device,
                name=None,
                actor="test",
                now=now,
            )
        cashier = await identity.create_api_key(
            session,
            TEST_KEYS,
            name="till A",
            role="cashier",
            merchant_id=owner.merchant_id,
            store_id=owner.store_id,
            actor="test",
            now=now,
        )
        product = await active_product(session, now, merchant_id=owner.merchant_id)
        card = await issue(session, product.id, now, merchant_id=owner.merchant_id)
    return {
        "owner": owner,
        "cashier": cashier.secret,
        "other_store": other_store.id,
        "card": card.card.id,
    }


async def test_store_bound_cashier_cannot_take_a_cards_value(
    settings: Settings, sqlite_database: Database, clock: FixedClock
) -> None:
    setup = await _store_bound_setup(sqlite_database, clock)
    app = create_app(settings, database=sqlite_database, clock=clock)
    card = setup["card"]
    async with api_client(app, setup["cashier"]) as till:
        assert (await till.get(f"/v1/cards/{card}")).status_code == 200
        for action in ("report_lost", "reissue", "close", "merge", "unfreeze"):
            body: dict[str, Any] = {"source_card_ids": [card]} if action == "merge" else {}
            response = await till.post(f"/v1/cards/{card}/{action}", json=body)
            assert response.status_code == 403, (action, response.text)
            assert f"card.{action}" in response.json()["error"]["message"]
        # a till may freeze a suspicious card (this one is not active yet: a state error,
        # not a refusal)
        frozen = await till.post(f"/v1/cards/{card}/freeze", json={})
        assert frozen.status_code not in (401, 403), frozen.text


async def test_store_bound_cashier_sees_only_its_store(
    settings: Settings, sqlite_database: Database, clock: FixedClock
) -> None:
    setup = await _store_bound_setup(sqlite_database, clock)
    owner = setup["owner"]
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with api_client(app, setup["cashier"]) as till, api_client(app, owner.api_key) as full:
        stores = (await till.get("/v1/stores")).json()["data"]
        assert [store["id"] for store in stores] == [owner.store_id]
        assert (await till.get(f"/v1/stores/{setup['other_store']}")).status_code == 404
        terminals = (await till.get("/v1/terminals")).json()["data"]
        assert {terminal["store_id"] for terminal in terminals} == {owner.store_id}
        asked = await till.get("/v1/terminals", params={"store_id": setup["other_store"]})
        assert {terminal["store_id"] for terminal in asked.json()["data"]} <= {owner.store_id}
        everything = (await full.get("/v1/terminals")).json()["data"]
        other = next(t for t in everything if t["store_id"] == setup["other_store"])
        assert (await till.get(f"/v1/terminals/{other['id']}")).status_code == 404
        created = await till.post(
            "/v1/terminals", json={"store_id": setup["other_store"], "device_id": "POS-X"}
        )
        assert created.status_code == 403
        for path in ("/v1/users", "/v1/api_keys"):
            response = await till.post(path, json={})
            assert response.status_code in (403, 422), (path, response.text)
        keys = await till.post("/v1/api_keys", json={"name": "mine", "role": "cashier"})
        assert keys.status_code == 403


async def test_reissue_event_names_the_key(
    settings: Settings, sqlite_database: Database, clock: FixedClock
) -> None:
    setup = await _store_bound_setup(sqlite_database, clock)
    owner = setup["owner"]
    app = create_app(settings, database=sqlite_database, clock=clock)
    card = setup["card"]
    async with api_client(app, owner.api_key) as manager:
        for action in ("activate", "report_lost"):
            response = await manager.post(f"/v1/cards/{card}/{action}", json={})
            assert response.status_code == 200, response.text
        reissued = await manager.post(f"/v1/cards/{card}/reissue", json={})
        assert reissued.status_code == 201, reissued.text
    async with sqlite_database.transaction() as session:
        events = (
            (await session.execute(select(Event).where(Event.type.like("card.reiss%"))))
            .scalars()
            .all()
        )
    assert events, "a reissue records an event"
    assert all(owner.api_key_id in (event.actor or "") for event in events)
