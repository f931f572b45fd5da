"""/v1/webhook_endpoints: secrets shown once and sealed, URL rules, scoping, attempts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.api_support import Callers, api_client, bearer, make_callers
from tests.factories import DEFAULT_NOW
from tests.receiver import running_receiver
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.identity import service as identity
from tongka.webhooks.delivery import deliver_due
from tongka.webhooks.models import WebhookEndpoint

BASE = "/v1/webhook_endpoints"


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
async def callers(database: Database) -> Callers:
    return await make_callers(database)


@pytest.fixture
def as_merchant_a(callers: Callers) -> Callable[[str], dict[str, str]]:
    def headers(idempotency_key: str) -> dict[str, str]:
        return {**bearer(callers.merchant_a.api_key), "Idempotency-Key": idempotency_key}

    return headers


@pytest.fixture
def create(
    app: FastAPI, as_merchant_a: Callable[[str], dict[str, str]]
) -> Callable[..., Awaitable[Any]]:
    async def post(url: str = "https://shop.example/hooks", key: str = "c1") -> Any:
        body = {"url": url, "enabled_events": ["card.frozen"]}
        async with api_client(app) as client:
            return await client.post(BASE, json=body, headers=as_merchant_a(key))

    return post


async def stored_endpoints(database: Database) -> list[WebhookEndpoint]:
    async with database.transaction() as session:
        return list(await session.scalars(select(WebhookEndpoint)))


async def test_create_shows_the_secret_once_and_stores_it_sealed(
    app: FastAPI, database: Database, callers: Callers, create: Callable[..., Awaitable[Any]]
) -> None:
    response = await create()
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    secret = created.pop("secret")
    assert secret.startswith("whsec_")
    assert created == {
        "id": created["id"],
        "object": "webhook_endpoint",
        "merchant_id": callers.merchant_a.merchant_id,
        "url": "https://shop.example/hooks",
        "description": "",
        "enabled_events": ["card.frozen"],
        "status": "enabled",
        "created_at": "2026-01-01T00:00:00Z",
        "disabled_at": None,
        "previous_secret_expires_at": None,
    }
    async with api_client(app, **bearer(callers.merchant_a.api_key)) as client:
        detail = (await client.get(f"{BASE}/{created['id']}")).json()
        listed = (await client.get(BASE)).json()
    assert detail == created
    assert listed["data"] == [created]
    [stored] = await stored_endpoints(database)
    assert secret.encode() not in stored.sealed_secret
    async with database.transaction() as session:
        statement = select(Event).where(Event.type == "webhook_endpoint.created")
        event = (await session.scalars(statement)).one()
    assert event.object_id == created["id"]
    assert secret not in str(event.data)


async def test_a_retried_create_returns_the_same_endpoint(
    database: Database, create: Callable[..., Awaitable[Any]]
) -> None:
    first = await create(key="same")
    retry = await create(key="same")
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["cache-control"] == "no-store"
    assert retry.json() == first.json()
    assert len(await stored_endpoints(database)) == 1


async def test_a_revoked_key_gets_401_not_the_stored_answer(
    database: Database, callers: Callers, create: Callable[..., Awaitable[Any]]
) -> None:
    # given an endpoint created with a key
    first = await create(key="k")
    # when the key is revoked and the request retried
    async with database.transaction() as session:
        await identity.revoke_api_key(
            session, callers.merchant_a.api_key_id, actor="test", now=DEFAULT_NOW
        )
    retry = await create(key="k")
    # then authentication comes first
    assert first.status_code == 201
    assert retry.status_code == 401
    assert "secret" not in retry.text


@pytest.mark.parametrize(
    ("url", "production"),
    [
        ("ftp://shop.example/hooks", False),
        ("https://user:pw@shop.example/hooks", False),
        ("not a url", False),
        ("http://shop.example/hooks", True),
    ],
)
async def test_malformed_urls_are_refused(
    database: Database,
    settings: Settings,
    create: Callable[..., Awaitable[Any]],
    url: str,
    production: bool,
) -> None:
    if production:
        settings.environment = "production"
    response = await create(url=url)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_invalid"
    assert response.json()["error"]["param"] == "url"
    assert await stored_endpoints(database) == []


@pytest.mark.parametrize("environment", ["development", "test", "production"])
@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",  # AWS, Azure, GCP metadata (link-local)
        "https://[fd00:ec2::254]/latest",  # AWS metadata over IPv6 (unique local)
        "https://metadata.google.internal/computeMetadata/v1",
        "https://[fe80::1]/hooks",
        "https://[::ffff:169.254.169.254]/hooks",  # IPv4-mapped
        "https://10.1.2.3/hooks",
        "https://192.168.0.1/hooks",
        "https://100.64.0.1/hooks",  # CGNAT
        "https://224.0.0.1/hooks",
        "https://240.0.0.1/hooks",  # reserved
        "https://0.0.0.0/hooks",
        "https://db.internal/hooks",
        "https://intranet/hooks",
        "https://127.0.0.1/hooks",  # loopback is off unless the setting allows it
        "https://localhost/hooks",
        "https://[::1]/hooks",
    ],
)
async def test_internal_destinations_are_refused_in_every_environment(
    database: Database,
    settings: Settings,
    create: Callable[..., Awaitable[Any]],
    url: str,
    environment: Any,
) -> None:
    settings.environment = environment
    response = await create(url=url)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "url_destination_refused"
    assert response.json()["error"]["param"] == "url"
    assert await stored_endpoints(database) == []


async def test_loopback_is_allowed_only_by_the_setting_and_never_in_production(
    database: Database, settings: Settings, create: Callable[..., Awaitable[Any]]
) -> None:
    settings.webhook_allow_loopback = True
    assert (await create(url="http://127.0.0.1:8080/hooks", key="k1")).status_code == 201
    assert (await create(url="https://169.254.169.254/", key="k2")).status_code == 422
    settings.environment = "production"
    assert (await create(url="https://127.0.0.1/hooks", key="k3")).status_code == 422
    assert len(await stored_endpoints(database)) == 1


async def test_unknown_fields_and_empty_event_lists_are_refused(
    app: FastAPI, database: Database, as_merchant_a: Callable[[str], dict[str, str]]
) -> None:
    async with api_client(app) as client:
        unknown = await client.post(
            BASE, json={"url": "https://a.example", "events": ["*"]}, headers=as_merchant_a("u")
        )
        empty = await client.post(
            BASE,
            json={"url": "https://a.example", "enabled_events": []},
            headers=as_merchant_a("e"),
        )
    assert (unknown.status_code, unknown.json()["error"]["param"]) == (422, "events")
    assert (empty.status_code, empty.json()["error"]["param"]) == (400, "enabled_events")
    assert await stored_endpoints(database) == []


async def test_another_merchant_cannot_see_or_change_the_endpoint(
    app: FastAPI, database: Database, callers: Callers, create: Callable[..., Awaitable[Any]]
) -> None:
    endpoint_id = (await create()).json()["id"]
    others = {**bearer(callers.merchant_b.api_key), "Idempotency-Key": "x"}
    async with api_client(app) as client:
        responses = [
            await client.get(f"{BASE}/{endpoint_id}", headers=others),
            await client.get(f"{BASE}/{endpoint_id}/attempts", headers=others),
            await client.post(f"{BASE}/{endpoint_id}/disable", headers=others),
            await client.post(f"{BASE}/{endpoint_id}/rotate_secret", headers=others),
        ]
        listed = await client.get(BASE, headers=others)
        platform = await client.get(f"{BASE}/{endpoint_id}", headers=bearer(callers.platform))
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert listed.json()["data"] == []
    assert platform.status_code == 200
    [stored] = await stored_endpoints(database)
    assert stored.status == "enabled"


async def test_disable_and_rotate(
    app: FastAPI,
    create: Callable[..., Awaitable[Any]],
    as_merchant_a: Callable[[str], dict[str, str]],
) -> None:
    created = (await create()).json()
    endpoint_id, old_secret = created["id"], created["secret"]
    async with api_client(app) as client:
        rotated = await client.post(
            f"{BASE}/{endpoint_id}/rotate_secret",
            json={"previous_secret_valid_seconds": 3600},
            headers=as_merchant_a("r1"),
        )
        disabled = await client.post(f"{BASE}/{endpoint_id}/disable", headers=as_merchant_a("d1"))
        rotate_disabled = await client.post(
            f"{BASE}/{endpoint_id}/rotate_secret", headers=as_merchant_a("r2")
        )
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (old_secret, None)
    assert rotated.json()["previous_secret_expires_at"] == "2026-01-01T01:00:00Z"
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["disabled_at"] == "2026-01-01T00:00:00Z"
    assert rotate_disabled.status_code == 422
    assert rotate_disabled.json()["error"]["code"] == "webhook_endpoint_disabled"


async def test_attempts_are_listed(
    app: FastAPI,
    database: Database,
    settings: Settings,
    clock: FixedClock,
    callers: Callers,
    as_merchant_a: Callable[[str], dict[str, str]],
) -> None:
    settings.webhook_allow_loopback = True
    with running_receiver() as receiver:
        receiver.statuses = [500]
        async with api_client(app) as client:
            created = await client.post(
                BASE, json={"url": receiver.url}, headers=as_merchant_a("a1")
            )
            endpoint_id = created.json()["id"]
            # the endpoint receives its own "webhook_endpoint.created" event ("*" by default)
            await deliver_due(database, clock, settings)
            page = await client.get(
                f"{BASE}/{endpoint_id}/attempts", headers=bearer(callers.merchant_a.api_key)
            )
    [attempt] = page.json()["data"]
    assert attempt["object"] == "webhook_attempt"
    assert (attempt["attempt_number"], attempt["status_code"], attempt["succeeded"]) == (
        1,
        500,
        False,
    )
    assert attempt["response_body"].startswith("answer 500")
