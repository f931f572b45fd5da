"""The consumer's console pages over HTTP: sign-in with a texted code, the home page and
its section hook, logout, the Sandbox SMS page, and walls between consumers and staff."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.factories import (
    make_consumer_with_token,
    make_merchant_with_key,
    make_platform_user,
    read_sandbox_code,
)
from tests.integration import test_console
from tests.integration.test_console import count, csrf_of, log_in
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.models import ConsoleSession, ConsumerLoginCode
from tongka.web import consumer_home
from tongka.web.console import is_consumer_page
from tongka.web.consumer_home import HomeSection

PHONE = "13812345678"
app = test_console.app  # the same fixtures as the staff console tests
browser = test_console.browser


async def _send_code(client: httpx.AsyncClient, phone: str = PHONE) -> httpx.Response:
    token = await csrf_of(client, "/console/consumer/login")
    return await client.post(
        "/console/consumer/login/code", data={"csrf_token": token, "phone": phone}
    )


async def _enter_code(client: httpx.AsyncClient, code: str, phone: str = PHONE) -> httpx.Response:
    token = await csrf_of(client, "/console/consumer/login")
    data = {"csrf_token": token, "phone": phone, "code": code}
    return await client.post("/console/consumer/login", data=data)


async def _sign_in(client: httpx.AsyncClient, database: Database) -> None:
    await _send_code(client)
    signed_in = await _enter_code(client, await read_sandbox_code(database, PHONE))
    assert signed_in.status_code == 303


async def test_a_holder_signs_in_with_a_texted_code_sees_the_home_page_and_logs_out(
    browser: httpx.AsyncClient, database: Database
) -> None:
    assert 'href="/console/consumer/login"' in (await browser.get("/console/login")).text
    sent = await _send_code(browser)
    assert (sent.status_code, sent.headers["location"]) == (303, "/console/consumer/login")
    asked = await browser.get("/console/consumer/login")
    assert "验证码已发送至 138****5678" in asked.text
    assert 'name="code"' in asked.text
    signed_in = await _enter_code(browser, await read_sandbox_code(database, PHONE))
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/console/me"
    assert "tongka_session=tk_con_" in signed_in.headers["set-cookie"]
    home = await browser.get("/console/me")
    assert home.status_code == 200
    for text in ("我的卡", "138****5678", "手机号已验证", "你还没有卡。", "消费者"):
        assert text in home.text
    assert PHONE not in home.text
    assert "/console/stores" not in home.text  # no staff navigation
    english = await browser.get("/console/me?lang=en")
    assert "My cards" in english.text
    assert "Phone verified" in english.text
    token = await csrf_of(browser, "/console/me")
    logged_out = await browser.post("/console/logout", data={"csrf_token": token})
    assert logged_out.headers["location"] == "/console/consumer/login"
    after = await browser.get("/console/me")
    assert after.status_code == 303
    assert after.headers["location"] == "/console/consumer/login?next=/console/me"


async def test_a_wrong_code_shows_the_form_again_and_counts_the_attempt(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _send_code(browser)
    code = await read_sandbox_code(database, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = await _enter_code(browser, wrong)
    assert refused.status_code == 303
    shown = await browser.get(refused.headers["location"])
    assert "验证码错误或已失效" in shown.text
    assert 'name="code"' in shown.text  # still the second step
    assert wrong not in shown.text  # a code is never typed back
    async with database.transaction() as session:
        login_code = await session.scalar(select(ConsumerLoginCode))
    assert login_code is not None
    assert login_code.failed_attempts == 1
    assert await count(database, ConsoleSession) == 0


async def test_asking_for_codes_too_fast_shows_the_reason(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _send_code(browser)
    again = await _send_code(browser)
    assert again.status_code == 303
    shown = await browser.get(again.headers["location"])
    assert "验证码刚刚已发送到该手机号，请稍后再获取。" in shown.text
    assert await count(database, ConsumerLoginCode) == 1


async def test_a_holder_reaches_no_staff_page_and_staff_no_holder_page(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _sign_in(browser, database)
    for path in ("/console/stores", "/console/review", "/console/users", "/console/sandbox_sms"):
        assert (await browser.get(path)).status_code == 403, path
    # the same session calls the API for the holder's own profile
    me = await browser.get("/v1/consumers/me")
    assert me.json()["phone"] == "138****5678"
    merchant = await make_merchant_with_key(database)
    browser.cookies.clear()
    await log_in(browser, merchant.admin_email, merchant.admin_password)
    assert (await browser.get("/console/me")).status_code == 403


async def test_the_home_page_shows_the_sections_other_parts_provide(
    browser: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def cards(console: object) -> HomeSection:
        return HomeSection("Cards of the test", "_consumer_no_cards.html", {"count": 2})

    monkeypatch.setitem(consumer_home.CONSUMER_HOME_SECTIONS, "cards", cards)
    await _sign_in(browser, database)
    home = await browser.get("/console/me")
    assert "Cards of the test" in home.text
    assert home.text.count("<section") == 1  # the placeholder gave way to the provider


async def test_operators_read_sandbox_sms_outside_production_only(
    browser: httpx.AsyncClient, settings: Settings, database: Database, clock: FixedClock
) -> None:
    await _send_code(browser)
    code = await read_sandbox_code(database, PHONE)
    email, password = await make_platform_user(database, role="support")
    browser.cookies.clear()
    await log_in(browser, email, password)
    page = await browser.get("/console/sandbox_sms")
    assert page.status_code == 200
    assert code in page.text
    assert 'href="/console/sandbox_sms"' in page.text
    production = create_app(
        settings.model_copy(update={"environment": "production"}), database=database, clock=clock
    )
    transport = httpx.ASGITransport(app=production)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await log_in(client, email, password)
        assert (await client.get("/console/sandbox_sms")).status_code == 404
        client.cookies.clear()
        refused = await _send_code(client, "13900001111")
        assert refused.status_code == 303
        shown = await client.get(refused.headers["location"])
    assert "无法发送短信：未配置短信网关。" in shown.text
    assert 'value="13900001111"' in shown.text


async def test_the_factory_token_works_as_the_console_cookie(
    app: FastAPI, database: Database
) -> None:
    holder = await make_consumer_with_token(database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", cookies={"tongka_session": holder.token}
    ) as client:
        home = await client.get("/console/me")
    assert home.status_code == 200
    assert f"{holder.phone[:3]}****{holder.phone[-4:]}" in home.text


@pytest.mark.parametrize(
    ("path", "is_consumer"),
    [("/console/me", True), ("/console/me/cards/card_1", True), ("/console/merchants", False)],
)
def test_pages_under_me_belong_to_card_holders(path: str, is_consumer: bool) -> None:
    assert is_consumer_page(path) is is_consumer
