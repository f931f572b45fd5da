"""Console pages for webhook endpoints (with delivery attempts) and events."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from tests.api_support import emit_event
from tests.factories import TEST_PASSWORD, make_merchant_with_key, make_platform_user
from tests.integration import test_console
from tests.integration.test_console import csrf_of, log_in
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.webhooks.delivery import deliver_due
from tongka.webhooks.models import WebhookEndpoint

CLOSED_PORT_URL = "http://127.0.0.1:9/hooks"


@pytest.fixture(autouse=True)
def allow_loopback(settings: Settings) -> None:
    """These tests deliver to a receiver on 127.0.0.1."""
    settings.webhook_allow_loopback = True


app = test_console.app  # the same fixtures as the staff console tests
browser = test_console.browser


async def endpoints(database: Database) -> list[WebhookEndpoint]:
    async with database.transaction() as session:
        return list(await session.scalars(select(WebhookEndpoint)))


async def add_endpoint(browser: httpx.AsyncClient, url: str = CLOSED_PORT_URL) -> httpx.Response:
    token = await csrf_of(browser, "/console/webhooks")
    form = {"csrf_token": token, "url": url, "enabled_events": "card.frozen, probe.done"}
    return await browser.post("/console/webhooks", data=form)


async def test_a_merchant_adds_an_endpoint_and_sees_its_secret_once(
    browser: httpx.AsyncClient, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    await log_in(browser, merchant.admin_email, TEST_PASSWORD)
    created = await add_endpoint(browser)
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    assert 'id="new-webhook-secret">whsec_' in created.text
    [endpoint] = await endpoints(database)
    assert (endpoint.merchant_id, endpoint.url) == (merchant.merchant_id, CLOSED_PORT_URL)
    assert endpoint.enabled_events == ["card.frozen", "probe.done"]
    listing = await browser.get("/console/webhooks")
    assert endpoint.id in listing.text
    assert "whsec_" not in listing.text


async def test_a_bad_url_is_explained_and_nothing_is_stored(
    browser: httpx.AsyncClient, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    await log_in(browser, merchant.admin_email, TEST_PASSWORD)
    refused = await add_endpoint(browser, url="ftp://files.example/hooks")
    assert (refused.status_code, refused.headers["location"]) == (303, "/console/webhooks")
    shown = await browser.get("/console/webhooks")
    assert "地址须以 http、https 开头。" in shown.text
    assert 'value="ftp://files.example/hooks"' in shown.text  # typed, kept
    assert await endpoints(database) == []


async def test_attempts_rotation_and_disabling(
    browser: httpx.AsyncClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    # given an endpoint that cannot be reached, and one event for it
    merchant = await make_merchant_with_key(database)
    await log_in(browser, merchant.admin_email, TEST_PASSWORD)
    await add_endpoint(browser)
    [endpoint] = await endpoints(database)
    await emit_event(database, clock, type="probe.done", merchant_id=merchant.merchant_id)
    await deliver_due(database, clock, settings)
    # the attempt is on the endpoint's page
    detail = await browser.get(f"/console/webhooks/{endpoint.id}")
    assert detail.status_code == 200
    assert "ConnectError" in detail.text
    # rotating shows a new secret once
    token = await csrf_of(browser, "/console/webhooks")
    rotated = await browser.post(
        f"/console/webhooks/{endpoint.id}/rotate_secret", data={"csrf_token": token}
    )
    assert 'id="new-webhook-secret">whsec_' in rotated.text
    assert rotated.headers["hx-replace-url"] == "/console/webhooks"
    # disabling needs a reason, then stops it
    without_reason = await browser.post(
        f"/console/webhooks/{endpoint.id}/disable", data={"csrf_token": token}
    )
    assert without_reason.status_code == 303
    [endpoint] = await endpoints(database)
    assert endpoint.status == "enabled"
    disabled = await browser.post(
        f"/console/webhooks/{endpoint.id}/disable",
        data={"csrf_token": token, "reason": "the receiver moved"},
    )
    assert disabled.status_code == 303
    [endpoint] = await endpoints(database)
    assert endpoint.status == "disabled"


async def test_another_merchants_endpoint_is_not_found(
    browser: httpx.AsyncClient, database: Database
) -> None:
    owner = await make_merchant_with_key(database)
    intruder = await make_merchant_with_key(database, legal_name="别家商户有限公司")
    await log_in(browser, owner.admin_email, TEST_PASSWORD)
    await add_endpoint(browser)
    [endpoint] = await endpoints(database)
    browser.cookies.clear()
    await log_in(browser, intruder.admin_email, TEST_PASSWORD)
    token = await csrf_of(browser, "/console/webhooks")
    assert (await browser.get(f"/console/webhooks/{endpoint.id}")).status_code == 404
    for action in ("disable", "rotate_secret"):
        response = await browser.post(
            f"/console/webhooks/{endpoint.id}/{action}", data={"csrf_token": token}
        )
        assert response.status_code == 404
    assert endpoint.id not in (await browser.get("/console/webhooks")).text
    [unchanged] = await endpoints(database)
    assert (unchanged.status, unchanged.sealed_secret) == ("enabled", endpoint.sealed_secret)


async def test_events_are_listed_per_merchant_and_filtered(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    mine = await make_merchant_with_key(database)
    other = await make_merchant_with_key(database, legal_name="别家商户有限公司")
    own_event = await emit_event(database, clock, type="probe.done", merchant_id=mine.merchant_id)
    other_event = await emit_event(
        database, clock, type="probe.done", merchant_id=other.merchant_id
    )
    await log_in(browser, mine.admin_email, TEST_PASSWORD)
    listing = await browser.get("/console/events")
    filtered = await browser.get("/console/events", params={"type": "probe.done"})
    malformed = await browser.get("/console/events", params={"type": "NOT A TYPE"})
    assert own_event in listing.text
    assert other_event not in listing.text
    assert filtered.text.count('data-event-id="') == 1
    assert malformed.status_code == 200
    assert "card.frozen" in malformed.text  # the hint names the expected form


async def test_platform_operators_see_every_endpoint_but_register_none(
    browser: httpx.AsyncClient, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    await log_in(browser, merchant.admin_email, TEST_PASSWORD)
    await add_endpoint(browser)
    [endpoint] = await endpoints(database)
    browser.cookies.clear()
    email, password = await make_platform_user(database)
    await log_in(browser, email, password)
    listing = await browser.get("/console/webhooks")
    assert endpoint.id in listing.text
    assert 'method="post" action="/console/webhooks"' not in listing.text  # no "add" form
    refused = await add_endpoint(browser)
    assert refused.status_code == 403
    assert len(await endpoints(database)) == 1
