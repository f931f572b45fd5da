"""The console over HTTP: sessions, CSRF, lockout, language, scoping (browser-free)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.factories import TEST_PASSWORD, make_merchant_with_key, make_platform_user
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.models import ConsoleSession, Store

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client, like a browser without JavaScript."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    match = CSRF.search((await client.get(path)).text)
    assert match is not None
    return match.group(1)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    token = await csrf_of(client, "/console/login")
    data = {"csrf_token": token, "email": email, "password": password}
    return await client.post("/console/login", data=data)


async def count(database: Database, model: type) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def test_login_sets_a_secure_session_cookie_and_logout_ends_it(
    browser: httpx.AsyncClient, database: Database
) -> None:
    email, password = await make_platform_user(database)
    response = await log_in(browser, email, password)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/review"
    cookie = response.headers["set-cookie"]
    assert "tongka_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert (await browser.get("/console/review")).status_code == 200
    token = await csrf_of(browser, "/console/stores")
    assert (await browser.post("/console/logout", data={"csrf_token": token})).status_code == 303
    after = await browser.get("/console/review")
    assert after.status_code == 303
    assert after.headers["location"].startswith("/console/login")


async def test_forms_without_the_csrf_token_are_refused_and_change_nothing(
    browser: httpx.AsyncClient, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    email, password = merchant.admin_email, merchant.admin_password
    refused_login = await browser.post(
        "/console/login", data={"email": email, "password": password}
    )
    assert refused_login.status_code == 403
    assert await count(database, ConsoleSession) == 0
    await log_in(browser, email, password)
    store = {"name": "静安店", "address": "南京西路1号", "city": "上海"}
    refused = await browser.post("/console/stores", data={**store, "csrf_token": "forged"})
    assert refused.status_code == 403
    assert await count(database, Store) == 0
    token = await csrf_of(browser, "/console/stores")
    created = await browser.post("/console/stores", data={**store, "csrf_token": token})
    assert created.status_code == 303
    assert await count(database, Store) == 1


async def test_a_console_session_calls_the_api_with_the_csrf_header(
    browser: httpx.AsyncClient, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    await log_in(browser, merchant.admin_email, merchant.admin_password)
    token = await csrf_of(browser, "/console/stores")
    body = {"name": "徐汇店", "address": "漕溪北路1号", "city": "上海"}
    assert (await browser.get("/v1/stores")).status_code == 200
    refused = await browser.post("/v1/stores", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_token_invalid"
    headers = {"X-CSRF-Token": token, "Idempotency-Key": "console-store-1"}
    created = await browser.post("/v1/stores", json=body, headers=headers)
    assert created.status_code == 201
    assert created.json()["merchant_id"] == merchant.merchant_id


async def test_wrong_passwords_lock_the_account(
    browser: httpx.AsyncClient, database: Database
) -> None:
    email, password = await make_platform_user(database)
    for _ in range(5):
        failed = await log_in(browser, email, "not the password")
        assert (failed.status_code, failed.headers["location"]) == (303, "/console/login")
        shown = await browser.get("/console/login")
        assert "邮箱或密码错误" in shown.text
        assert f'value="{email}"' in shown.text  # the email typed comes back
        assert "not the password" not in shown.text  # the password never does
    locked = await log_in(browser, email, password)
    assert locked.status_code == 303
    shown = await browser.get("/console/login")
    assert "临时锁定" in shown.text
    assert password not in shown.text
    assert shown.text.count("临时锁定") == 1  # once, not twice


async def test_idle_sessions_expire(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    email, password = await make_platform_user(database)
    await log_in(browser, email, password)
    clock.advance(timedelta(hours=2, minutes=1))
    expired = await browser.get("/console/merchants")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/console/login?next=/console/merchants"
    api = await browser.get("/v1/merchants")
    assert api.status_code == 401
    assert api.json()["error"]["code"] == "session_expired"


async def test_the_site_root_leads_to_the_console(browser: httpx.AsyncClient) -> None:
    root = await browser.get("/")
    assert root.headers["location"] == "/console/"
    home = await browser.get("/console/")
    assert home.headers["location"] == "/console/login?next=/console/"
    assert (await browser.get("/static/htmx.min.js")).status_code == 200


async def test_english_is_one_click_away(browser: httpx.AsyncClient) -> None:
    english = await browser.get("/console/login?lang=en")
    assert "Log in" in english.text
    assert 'lang="en"' in english.text
    assert "tongka_lang=en" in english.headers["set-cookie"]
    assert "Log in" in (await browser.get("/console/login")).text  # the cookie remembers


async def test_merchants_see_only_their_own_pages(
    browser: httpx.AsyncClient, database: Database
) -> None:
    mine = await make_merchant_with_key(database)
    other = await make_merchant_with_key(database, legal_name="别家商户有限公司")
    await log_in(browser, mine.admin_email, TEST_PASSWORD)
    assert (await browser.get("/console/review")).status_code == 403
    assert (await browser.get(f"/console/merchants/{other.merchant_id}")).status_code == 404
    listing = await browser.get("/console/merchants")
    assert mine.merchant_id in listing.text
    assert other.merchant_id not in listing.text
    token = await csrf_of(browser, "/console/api_keys")
    revoke = await browser.post(
        f"/console/api_keys/{other.api_key_id}/revoke", data={"csrf_token": token}
    )
    assert revoke.status_code == 404
