"""The 退卡 console pages over HTTP: the holder's form returns one of their cards to a bank
account in their verified name once however often it is sent, each return rule refuses at
its field in Chinese and leaves nothing behind, and 退卡记录 (list, CSV, a return's page)
shows each caller the returns of their scope only. The books are checked after every test."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.cards_support import active_product, balance_of
from tests.factories import (
    TEST_PASSWORD,
    make_consumer_with_token,
    make_merchant_with_key,
)
from tests.integration.test_card_returns_api import (  # noqa: F401 - fixtures
    NAME,
    Holder,
    a_card,
    app,
    world,
)
from tests.integration.test_console import log_in
from tongka.cards.models import Card
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.identity.models import Consumer, User
from tongka.sales.return_models import CardReturn

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
RETURN_PAGE = re.compile(r"^/console/card_returns/(ret_[0-9a-z]+)$")
FORM = "/console/me/card_return"


@pytest.fixture
async def holder(app: FastAPI, world: Holder) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        client.cookies = httpx.Cookies({SESSION_COOKIE: world.holder_token})
        yield client


async def _form(client: httpx.AsyncClient, card_id: str) -> dict[str, str]:
    page = await client.get(f"{FORM}?card_id={card_id}")
    assert page.status_code == 200, page.text
    csrf, token = CSRF.search(page.text), TOKEN.search(page.text)
    assert csrf is not None
    assert token is not None
    return {"csrf_token": csrf.group(1), "form_token": token.group(1), "card_id": card_id}


def _bank(name: str = NAME) -> dict[str, str]:
    return {
        "bank_name": "中国工商银行上海分行",
        "account_name": name,
        "account_number": "6222 0210 0123 4567",
    }


async def _returns(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(CardReturn)) or 0)


async def _status(database: Database, card_id: str) -> str:
    async with database.transaction() as session:
        card = await session.get(Card, card_id)
        assert card is not None
        return card.status


async def test_the_holder_returns_a_card_once_to_their_own_account(
    holder: httpx.AsyncClient,
    database: Database,
    clock: FixedClock,
    world: Holder,  # noqa: F811
) -> None:
    card_id = await a_card(database, clock, world, 12_345, bonus=500)
    card_page = await holder.get(f"/console/me/cards/{card_id}")
    assert f'href="{FORM}?card_id={card_id}" data-return-link' in card_page.text
    form = await _form(holder, card_id)
    page = (await holder.get(f"{FORM}?card_id={card_id}")).text
    assert "¥123.45" in page
    assert "¥5.00" in page  # the bonus forfeited
    assert f'value="{NAME}"' in page  # the verified name, filled in
    form |= _bank()

    first = await holder.post(FORM, data=form)
    again = await holder.post(FORM, data=form)  # a double tap

    assert first.status_code == again.status_code == 303, first.text
    found = RETURN_PAGE.match(first.headers["location"])
    assert found is not None, first.headers["location"]
    assert again.headers["location"] == first.headers["location"]
    assert await _returns(database) == 1
    assert await _status(database, card_id) == "closed"
    assert (await balance_of(database, card_id)).total == 0
    shown = await holder.get(first.headers["location"])
    assert shown.status_code == 200
    assert 'data-return-status="paying"' in shown.text
    assert "**** 4567" in shown.text
    assert "0123" not in shown.text
    assert "¥123.45" in shown.text
    card_page = await holder.get(f"/console/me/cards/{card_id}")
    assert f'href="/console/card_returns/{found.group(1)}" data-card-return' in card_page.text


@pytest.mark.parametrize(
    ("case", "field", "words"),
    [
        ("account_name_mismatch", "account_name", "本人名下"),
        ("unverified", "account_name", "身份证姓名"),
        ("anonymous_card", "card_id", "记名卡"),
        ("bad_number", "account_number", "8 至 32 位数字"),
    ],
    ids=["account_name_mismatch", "unverified", "anonymous_card", "bad_number"],
)
async def test_each_return_rule_refuses_at_its_field_and_nothing_changes(
    holder: httpx.AsyncClient,
    database: Database,
    clock: FixedClock,
    world: Holder,  # noqa: F811
    case: str,
    field: str,
    words: str,
) -> None:
    # given
    product_id = None
    if case == "anonymous_card":
        async with database.transaction() as session:
            product_id = (
                await active_product(
                    session,
                    clock.now(),
                    merchant_id=world.merchant_id,
                    name="不记名卡",
                    is_named=False,
                )
            ).id
    if case == "unverified":
        async with database.transaction() as session:
            consumer = await session.get(Consumer, world.holder_id)
            assert consumer is not None
            consumer.verified_name = None
    card_id = await a_card(database, clock, world, 20_000, product_id=product_id)
    form = await _form(holder, card_id) | _bank("李四" if case == "account_name_mismatch" else NAME)
    if case == "bad_number":
        form["account_number"] = "12ab"

    # when
    answer = await holder.post(FORM, data=form)

    # then
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{FORM}?card_id={card_id}"
    page = (await holder.get(answer.headers["location"])).text
    error = re.search(rf'<span class="field-error" id="{field}-error"[^>]*>([^<]+)</span>', page)
    assert error is not None, page
    assert words in error.group(1)
    assert "12ab" not in page  # the account number is never typed back
    assert await _returns(database) == 0
    assert await _status(database, card_id) == "active"
    assert (await balance_of(database, card_id)).total == 20_000


async def test_the_lists_show_each_caller_their_own_returns_and_the_csv(
    app: FastAPI,  # noqa: F811
    holder: httpx.AsyncClient,
    database: Database,
    clock: FixedClock,
    world: Holder,  # noqa: F811
) -> None:
    card_id = await a_card(database, clock, world, 30_000)
    made = await holder.post(FORM, data=await _form(holder, card_id) | _bank())
    return_path = made.headers["location"]
    return_id = return_path.rsplit("/", 1)[1]
    other = await make_merchant_with_key(database, now=clock.now())
    stranger = await make_consumer_with_token(database, now=clock.now())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as issuer:
        admin_email = await _admin_email(database, world.merchant_id)
        assert (await log_in(issuer, admin_email, TEST_PASSWORD)).status_code == 303
        listed = await issuer.get("/console/card_returns")
        assert listed.status_code == 200
        assert f'data-return-id="{return_id}"' in listed.text
        assert f'data-return-id="{return_id}" data-status="paying"' in listed.text
        paid = await issuer.get("/console/card_returns?status=paid")
        assert f'data-return-id="{return_id}"' not in paid.text
        exported = await issuer.get("/console/card_returns?format=csv")
        assert exported.status_code == 200
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert len(rows) == 2
        assert any("4567" in cell for cell in rows[1])
        assert not any("0123" in cell for cell in rows[1])
        assert (await issuer.get(return_path)).status_code == 200
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as foreign:
        assert (await log_in(foreign, other.admin_email, TEST_PASSWORD)).status_code == 303
        assert (
            f'data-return-id="{return_id}"' not in (await foreign.get("/console/card_returns")).text
        )
        assert (await foreign.get(return_path)).status_code == 404
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as someone:
        someone.cookies = httpx.Cookies({SESSION_COOKIE: stranger.token})
        assert (await someone.get(return_path)).status_code == 404
        assert (await someone.get(FORM)).status_code == 200  # no card: nothing to return
    mine = await holder.get("/console/card_returns")
    assert f'data-return-id="{return_id}"' in mine.text


async def _admin_email(database: Database, merchant_id: str) -> str:
    async with database.transaction() as session:
        email = await session.scalar(
            select(User.email).where(User.merchant_id == merchant_id, User.role == "merchant_admin")
        )
    assert email is not None
    return email
