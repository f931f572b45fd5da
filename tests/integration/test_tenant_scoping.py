"""Tenants are walls: every ``/v1`` route with an id in its path, called with merchant B's
key on merchant A's object, answers exactly like an unknown id (404) and changes nothing.

The walk reads the app's OpenAPI document, so a new route is covered as soon as it exists;
its objects come from ``tests/scoping_samples.py`` (add a factory there for a new part).
Routes only platform callers may use answer merchant B with the same 403 they give merchant
A — that reveals nothing either, and is checked the same way; so do routes no merchant may
use at all (a holder's and the platform's, e.g. a card return's retry).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select

from tests.factories import api_client, make_merchant_with_key, make_platform_key
from tests.integration.test_policy_routes import declarations
from tests.scoping_samples import SAMPLES, Owner, example_body
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.db.models import import_all_models
from tongka.identity.principal import PrincipalKind
from tongka.policy.table import TABLE

PARAMETER = re.compile(r"\{([^}]+)\}")
UNKNOWN_ID = "zzz_00000000000000000000000000"
# collections only platform staff read: their samples are read back with the platform key
PLATFORM_READ = ("consumers", "reconciliations")


def _required_kinds(dependant: Dependant) -> set[PrincipalKind]:
    kinds = set()
    for dependency in dependant.dependencies:
        kind = getattr(dependency.call, "required_kind", None)
        if kind is not None:
            kinds.add(kind)
        kinds |= _required_kinds(dependency)
    return kinds


def _is_platform_only(app: FastAPI, path: str, method: str) -> bool:
    for context in iter_route_contexts(app.routes):  # included routers stay nested
        route = context.route
        if isinstance(route, APIRoute) and context.path_format == path and method in route.methods:
            return PrincipalKind.PLATFORM in _required_kinds(route.dependant)
    raise AssertionError(f"no route for {method} {path}")


def _is_merchant_refused(app: FastAPI, path: str, method: str) -> bool:
    """No merchant caller may take the route's action (the policy table grants none)."""
    for context in iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, APIRoute) and context.path_format == path and method in route.methods:
            actions = [
                call.policy_action
                for call in declarations(route.dependant)
                if hasattr(call, "policy_action")
            ]
            return bool(actions) and all(
                all(grant.kind is not PrincipalKind.MERCHANT for grant in TABLE[action])
                for action in actions
            )
    raise AssertionError(f"no route for {method} {path}")


def _is_public(app: FastAPI, path: str, method: str) -> bool:
    """A public route's path value is a credential of its own (a receipt's code), not an id
    a tenant owns: anyone holding it may use it, so there is no wall to check."""
    for context in iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, APIRoute) and context.path_format == path and method in route.methods:
            return any(hasattr(call, "policy_public") for call in declarations(route.dependant))
    raise AssertionError(f"no route for {method} {path}")


def _collections(path: str) -> list[str]:
    """The collection each path parameter belongs to: the segment before it."""
    segments = path.strip("/").split("/")
    return [segments[index - 1] for index, part in enumerate(segments) if PARAMETER.fullmatch(part)]


def _fill(path: str, ids: list[str]) -> str:
    values = iter(ids)
    return PARAMETER.sub(lambda _match: next(values), path)


async def _snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: the proof that a refused request changed nothing."""
    snapshot = {}
    async with database.transaction() as session:
        for table in import_all_models().sorted_tables:
            rows = (await session.execute(select(table))).all()
            snapshot[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot


async def test_no_route_reaches_another_merchants_objects(
    settings: Settings, database: Database, clock: FixedClock
) -> None:
    # the walk sends hundreds of requests a second with one key: the rate limit is not its subject
    unlimited = settings.model_copy(update={"rate_limit_per_key": "100000/second"})
    app = create_app(unlimited, database=database, clock=clock)
    document = app.openapi()
    owner_merchant = await make_merchant_with_key(database, legal_name="商户甲", with_store=True)
    intruder = await make_merchant_with_key(database, legal_name="商户乙", with_store=True)
    platform_key = await make_platform_key(database)
    failures: list[str] = []
    async with (
        api_client(app, owner_merchant.api_key) as owner_client,
        api_client(app, platform_key) as platform_client,
        api_client(app, intruder.api_key) as intruder_client,
    ):
        owner = Owner(owner_merchant, owner_client, platform_client, database)
        samples: dict[str, str] = {}
        routes = [
            (method.upper(), path)
            for path, operations in document["paths"].items()
            if path.startswith("/v1/") and PARAMETER.search(path)
            for method in operations
            if not _is_public(app, path, method.upper())
        ]
        for _method, path in routes:
            for collection in _collections(path):
                if collection not in samples:
                    if collection not in SAMPLES:
                        failures.append(
                            f"{path}: no sample object for {collection!r}; register one in "
                            "tests/scoping_samples.py"
                        )
                        continue
                    samples[collection] = await SAMPLES[collection](owner)
        await intruder_client.get("/v1/merchants")  # record B's key use before the snapshot
        before = await _snapshot(database)
        checked = 0
        for method, path in routes:
            collections = _collections(path)
            if not all(collection in samples for collection in collections):
                continue
            body = example_body(document, method, path)
            target = _fill(path, [samples[collection] for collection in collections])
            unknown = _fill(path, [UNKNOWN_ID for _ in collections])
            response = await intruder_client.request(method, target, json=body)
            reference = await intruder_client.request(method, unknown, json=body)
            refused = _is_platform_only(app, path, method) or _is_merchant_refused(
                app, path, method
            )
            expected = 403 if refused else 404
            if response.status_code != expected or response.json() != reference.json():
                failures.append(
                    f"{method} {path}: got {response.status_code} {response.text}, expected "
                    f"{expected} exactly like an unknown id ({reference.text})"
                )
            checked += 1
        after = await _snapshot(database)
        # the samples are real: their owner can read them
        for collection, object_id in samples.items():
            if any(
                _collections(path) == [collection] and path.count("/") == 3 and "get" in operations
                for path, operations in document["paths"].items()
            ):
                client = platform_client if collection in PLATFORM_READ else owner_client
                response = await client.get(f"/v1/{collection}/{object_id}")
                if response.status_code != 200:
                    failures.append(f"sample {collection} {object_id}: owner got {response.text}")
    assert failures == []
    assert checked >= 10
    assert after == before
