"""Every response that carries a secret is ``Cache-Control: no-store``, by one mechanism.

The walk reads the OpenAPI document: every operation whose success response contains a
property marked ``x-secret`` (``tongka.edge.no_store.SecretField``) must be a route the
middleware treats as secret; every response property named like a secret must be marked.
Then real requests check the header end to end, replays included.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from tests.api_support import api_client
from tests.factories import make_merchant_with_key
from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.no_store import SECRET_MARKER, route_carries_secret

SECRET_NAMES = {"secret", "number", "content", "api_key", "token", "session_token"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _secret_properties(
    document: dict[str, Any], schema: dict[str, Any], seen: set[str]
) -> tuple[list[str], list[str]]:
    """(marked property names, unmarked but secret-sounding names) reachable from ``schema``."""
    marked: list[str] = []
    unmarked: list[str] = []
    ref = schema.get("$ref")
    if ref in seen:
        return marked, unmarked
    if ref:
        seen.add(ref)
    schema = _resolve(document, schema)
    children = [schema["items"]] if "items" in schema else []
    children += schema.get("anyOf", []) + schema.get("allOf", [])
    for name, prop in schema.get("properties", {}).items():
        if prop.get(SECRET_MARKER):
            marked.append(name)
        elif name in SECRET_NAMES or name.endswith("_secret"):
            unmarked.append(name)
        children.append(prop)
    for child in children:
        more_marked, more_unmarked = _secret_properties(document, child, seen)
        marked += more_marked
        unmarked += more_unmarked
    return marked, unmarked


def test_every_route_answering_a_secret_is_never_cached(settings: Settings) -> None:
    app = create_app(settings)
    document = app.openapi()
    routes = {
        (method, context.path_format): context.route
        for context in iter_route_contexts(app.routes)  # included routers stay nested
        if isinstance(context.route, APIRoute)
        for method in context.route.methods
    }
    secret_operations, unmarked = [], []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if not schema:
                    continue
                marked, suspicious = _secret_properties(document, schema, set())
                unmarked += [f"{method.upper()} {path}: {name}" for name in suspicious]
                if marked:
                    secret_operations.append((method.upper(), path))
    assert unmarked == []
    expected = {
        ("POST", "/v1/cards"),
        ("POST", "/v1/cards/{card_id}/reissue"),
        ("POST", "/v1/api_keys"),
        ("POST", "/v1/webhook_endpoints"),
        ("POST", "/v1/card_batches/{batch_id}/export"),
    }
    assert expected <= set(secret_operations)
    assert [op for op in secret_operations if not route_carries_secret(routes[op])] == []
    api_not_secret = [
        key for key in routes if key[1].startswith("/v1/") and key not in secret_operations
    ]
    assert [key for key in api_not_secret if route_carries_secret(routes[key])] == []
    console_secret = {
        key
        for key, route in routes.items()
        if key[1].startswith("/console/") and route_carries_secret(route)
    }
    assert console_secret == {
        ("GET", "/console/api_keys"),
        ("POST", "/console/api_keys"),
        ("GET", "/console/webhooks"),
        ("POST", "/console/webhooks"),
        ("POST", "/console/webhooks/{endpoint_id}/rotate_secret"),
        ("POST", "/console/cards/{card_id}/reissue"),
        ("POST", "/console/card_batches/{batch_id}/export"),
        ("POST", "/console/users/{user_id}/reset_password"),  # the temporary password
        ("POST", "/console/balance"),  # a card's balance, answered to its number and secret
        ("POST", "/console/me/payment_code"),  # a holder's payment code, good for a minute
    }


async def test_a_new_api_key_and_its_replay_are_not_cached_and_a_list_is(
    settings: Settings, sqlite_database: Database
) -> None:
    app = create_app(settings, database=sqlite_database)
    merchant = await make_merchant_with_key(sqlite_database, role="full")
    body = {"name": "till", "role": "cashier"}
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    async with api_client(app, authorization=f"Bearer {merchant.api_key}") as client:
        created = await client.post("/v1/api_keys", json=body, headers=headers)
        replayed = await client.post("/v1/api_keys", json=body, headers=headers)
        listed = await client.get("/v1/api_keys")
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.headers["cache-control"] == "no-store"
    assert listed.status_code == 200
    assert "cache-control" not in listed.headers
