"""The consent pages over HTTP: the accepting merchant approves a proposal (受理协议) on the
console; the card holder confirms a binding on 我的卡. Chinese first."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.cards_support import active_product, issue
from tests.factories import (
    TEST_KEYS,
    make_consumer_with_token,
    make_merchant_with_key,
    read_sandbox_code,
)
from tongka.api.app import create_app
from tongka.cards import service
from tongka.cards.models import Card, CardAcceptanceAgreement
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.sms import SandboxSmsSender

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


def _browser(app: FastAPI, **cookies: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://test", cookies=cookies)


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    match = CSRF.search((await client.get(path)).text)
    assert match is not None, path
    return match.group(1)


async def test_the_accepting_merchant_approves_a_proposal_on_the_console(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    issuer = await make_merchant_with_key(database, legal_name="发卡商户")
    acceptor = await make_merchant_with_key(database, legal_name="受理商户")
    async with database.transaction() as session:
        agreement = await service.propose_agreement(
            session,
            issuer.merchant_id,
            acceptor.merchant_id,
            note="联名卡合作",
            actor="test",
            now=clock.now(),
        )
    async with _browser(app) as browser:
        token = await _csrf(browser, "/console/login")
        form = {"csrf_token": token, "email": acceptor.admin_email}
        form["password"] = acceptor.admin_password
        signed_in = await browser.post("/console/login", data=form)
        assert signed_in.status_code == 303, signed_in.text
        page = await browser.get("/console/acceptance_agreements")
        assert page.status_code == 200
        assert "待我方确认" in page.text
        assert "联名卡合作" in page.text
        assert f"/console/acceptance_agreements/{agreement.id}/approve" in page.text
        approved = await browser.post(
            f"/console/acceptance_agreements/{agreement.id}/approve",
            data={"csrf_token": await _csrf(browser, "/console/acceptance_agreements")},
        )
        assert approved.status_code == 303, approved.text
        shown = await browser.get("/console/acceptance_agreements?lang=en")
        assert "In force" in shown.text
    async with database.transaction() as session:
        row = await session.get(CardAcceptanceAgreement, agreement.id)
        assert row is not None
        assert row.status == "approved"


async def test_the_holder_confirms_a_binding_on_the_home_page(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    holder = await make_consumer_with_token(database)
    merchant = await make_merchant_with_key(database, legal_name="发卡商户甲")
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), merchant.merchant_id)
        card = (await issue(session, product.id, clock.now(), merchant_id=None)).card
        await service.request_binding(
            session,
            TEST_KEYS,
            card.id,
            holder.phone,
            merchant_id=merchant.merchant_id,
            actor="test",
            now=clock.now(),
            sender=SandboxSmsSender(),
        )
    code = await read_sandbox_code(database, holder.phone)
    wrong_code = f"{(int(code) + 1) % 10**6:06d}"
    async with _browser(app, tongka_session=holder.token) as browser:
        home = await browser.get("/console/me")
        assert "待确认的绑卡" in home.text
        assert "发卡商户甲" in home.text
        assert card.last4 in home.text
        wrong = await browser.post(
            "/console/me/holder_bindings/confirm",
            data={"csrf_token": await _csrf(browser, "/console/me"), "code": wrong_code},
        )
        assert wrong.status_code == 303
        shown = await browser.get(wrong.headers["location"])
        assert "验证码错误" in shown.text
        confirmed = await browser.post(
            "/console/me/holder_bindings/confirm",
            data={"csrf_token": await _csrf(browser, "/console/me"), "code": code},
        )
        assert confirmed.status_code == 303
        after = await browser.get("/console/me")
    assert "待确认的绑卡" not in after.text
    async with database.transaction() as session:
        bound = await session.scalar(select(Card.holder_id).where(Card.id == card.id))
    assert bound == holder.consumer_id
