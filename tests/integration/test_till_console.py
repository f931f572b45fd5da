"""The cashier page (收银台) over HTTP: redeem by number and secret or payment code, see the
answer (approved, declined in words, the holder's confirmation), refund, void and reverse
only where allowed and only at the caller's store. Every POST answers 303 (PRG)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.cards_support import active_product, balance_of, funded_card, make_holder
from tests.factories import TEST_PASSWORD, make_merchant_with_key
from tests.integration.test_card_console import _browser, _csrf
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity
from tongka.identity.models import SandboxSmsMessage
from tongka.redemption.limit_settings import LimitValues, set_product_limits
from tongka.redemption.models import Redemption
from tongka.redemption.payment_codes import issue_payment_code

TILL = "/console/till"
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@dataclass
class Shop:
    merchant_id: str
    store_id: str
    other_store_id: str
    product_id: str
    card_id: str
    number: str
    secret: str
    holder_id: str
    cashier: httpx.AsyncClient  # bound to store_id
    elsewhere: httpx.AsyncClient  # a cashier bound to other_store_id
    admin: httpx.AsyncClient  # the merchant's admin (picks a store)


@pytest.fixture
async def shop(app: FastAPI, database: Database, clock: FixedClock) -> AsyncIterator[Shop]:
    now = clock.now()
    merchant = await make_merchant_with_key(database, with_store=True, now=now)
    assert merchant.store_id is not None
    async with database.transaction() as session:
        other = await identity.create_store(
            session,
            merchant_id=merchant.merchant_id,
            name="第二门店",
            address="上海市黄浦区南京东路2号",
            city="上海",
            actor="test",
            now=now,
        )
        emails = []
        for store_id in (merchant.store_id, other.id):
            user = await identity.create_user(
                session,
                email=f"till-{store_id}@example.com",
                display_name="收银员",
                role="cashier",
                password=TEST_PASSWORD,
                actor="test",
                now=now,
                merchant_id=merchant.merchant_id,
                store_id=store_id,
            )
            emails.append(user.email)
        product = await active_product(session, now, merchant.merchant_id)
        holder = await make_holder(session, now)
        issued = await funded_card(session, now, product, amount=10_000, holder_id=holder)
    clients = [
        await _browser(app, emails[0], TEST_PASSWORD),
        await _browser(app, emails[1], TEST_PASSWORD),
        await _browser(app, merchant.admin_email, TEST_PASSWORD),
    ]
    yield Shop(
        merchant.merchant_id,
        merchant.store_id,
        other.id,
        product.id,
        issued.card.id,
        issued.number,
        issued.secret,
        holder,
        *clients,
    )
    for client in clients:
        await client.aclose()


async def _redeem(client: httpx.AsyncClient, page: str = TILL, **fields: str) -> httpx.Response:
    shown = (await client.get(page)).text
    key = KEY.search(shown)
    token = await _csrf(client, page)
    data = {"csrf_token": token, "idempotency_key": key.group(1) if key else "", **fields}
    return await client.post("/console/till/redemptions", data=data)


def _purchase_of(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["purchase"][0]


async def _record(database: Database, purchase_id: str) -> Redemption:
    async with database.transaction() as session:
        record = await session.scalar(
            select(Redemption).where(Redemption.purchase_id == purchase_id)
        )
        assert record is not None
        return record


async def test_a_store_bound_cashier_redeems_and_sees_the_answer(
    shop: Shop, database: Database
) -> None:
    answer = await _redeem(shop.cashier, card=shop.number, secret=shop.secret, amount="12.34")
    page = await shop.cashier.get(answer.headers["location"])

    record = await _record(database, _purchase_of(answer))
    assert (record.status, record.amount, record.store_id) == ("approved", 1_234, shop.store_id)
    assert 'data-answer="approved"' in page.text
    assert "¥12.34" in page.text
    assert "¥87.66" in page.text  # the balance left
    assert shop.number not in page.text
    assert shop.secret not in page.text
    assert (await balance_of(database, shop.card_id)).total == 8_766


async def test_the_same_form_sent_twice_redeems_once(shop: Shop, database: Database) -> None:
    shown = (await shop.cashier.get(TILL)).text
    key = KEY.search(shown)
    assert key is not None
    token = await _csrf(shop.cashier, TILL)
    data = {
        "csrf_token": token,
        "idempotency_key": key.group(1),
        "card": shop.number,
        "secret": shop.secret,
        "amount": "10",
    }
    first = await shop.cashier.post("/console/till/redemptions", data=data)
    second = await shop.cashier.post("/console/till/redemptions", data=data)

    assert _purchase_of(first) == _purchase_of(second)
    assert (await balance_of(database, shop.card_id)).total == 9_000


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"amount": "100.01"}, "余额不足"),
        ({"amount": "1", "secret": "000000"}, "卡号或卡密错误"),
    ],
    ids=["insufficient_funds", "wrong_secret"],
)
async def test_a_decline_shows_its_reason_in_words(
    shop: Shop, database: Database, fields: dict[str, str], words: str
) -> None:
    answer = await _redeem(shop.cashier, card=shop.number, **{"secret": shop.secret, **fields})
    page = await shop.cashier.get(answer.headers["location"])

    assert 'data-answer="declined"' in page.text
    assert words in page.text
    assert (await balance_of(database, shop.card_id)).total == 10_000


async def test_a_bad_amount_comes_back_at_its_field_and_nothing_is_typed_back(
    shop: Shop, database: Database
) -> None:
    answer = await _redeem(shop.cashier, card=shop.number, secret=shop.secret, amount="1.234")
    page = await shop.cashier.get(answer.headers["location"])

    assert answer.status_code == 303
    assert "最多两位小数" in page.text or "two decimals" in page.text
    assert shop.number not in page.text
    assert (await balance_of(database, shop.card_id)).total == 10_000


async def test_a_payment_code_pays_once_and_a_decline_keeps_it(
    shop: Shop, database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        issued = await issue_payment_code(session, shop.holder_id, shop.card_id, now=clock.now())

    too_much = await _redeem(shop.cashier, card=issued.code, amount="200")
    paid = await _redeem(shop.cashier, card=issued.code, amount="20")
    spent = await _redeem(shop.cashier, card=issued.code, amount="20")
    spent_page = await shop.cashier.get(spent.headers["location"])

    assert (await _record(database, _purchase_of(too_much))).decline_code == "insufficient_funds"
    assert (await _record(database, _purchase_of(paid))).status == "approved"
    assert "付款码已使用" in spent_page.text
    assert (await balance_of(database, shop.card_id)).total == 8_000


async def test_a_refund_from_the_till_and_never_beyond(shop: Shop, database: Database) -> None:
    record = await _record(
        database,
        _purchase_of(
            await _redeem(shop.cashier, card=shop.number, secret=shop.secret, amount="50")
        ),
    )
    url = f"/console/till/redemptions/{record.id}/refund"
    page = (await shop.cashier.get(TILL)).text
    assert url in page
    token = await _csrf(shop.cashier, TILL)

    part = await shop.cashier.post(
        url, data={"csrf_token": token, "idempotency_key": "rf1", "amount": "20"}
    )
    again = await shop.cashier.post(
        url, data={"csrf_token": token, "idempotency_key": "rf1", "amount": "20"}
    )
    beyond = await shop.cashier.post(
        url, data={"csrf_token": token, "idempotency_key": "rf2", "amount": "30.01"}
    )
    beyond_page = await shop.cashier.get(beyond.headers["location"])
    rest = await shop.cashier.post(url, data={"csrf_token": token, "idempotency_key": "rf3"})

    assert [r.status_code for r in (part, again, beyond, rest)] == [303] * 4
    assert "退款不能超过" in beyond_page.text
    assert (await balance_of(database, shop.card_id)).total == 10_000
    assert url not in (await shop.cashier.get(TILL)).text  # nothing left to refund


async def test_another_stores_cashier_cannot_see_or_refund_it(
    shop: Shop, database: Database
) -> None:
    record = await _record(
        database,
        _purchase_of(
            await _redeem(shop.cashier, card=shop.number, secret=shop.secret, amount="50")
        ),
    )
    token = await _csrf(shop.elsewhere, TILL)
    refused = await shop.elsewhere.post(
        f"/console/till/redemptions/{record.id}/refund",
        data={"csrf_token": token, "idempotency_key": "x"},
    )
    their_page = await shop.elsewhere.get(TILL)

    assert refused.status_code == 404
    assert record.id not in their_page.text
    assert (await balance_of(database, shop.card_id)).total == 5_000


async def test_a_reversal_from_the_till_undoes_the_purchase(shop: Shop, database: Database) -> None:
    record = await _record(
        database,
        _purchase_of(
            await _redeem(shop.cashier, card=shop.number, secret=shop.secret, amount="30")
        ),
    )
    token = await _csrf(shop.cashier, TILL)
    url = f"/console/till/redemptions/{record.id}/reverse"
    done = await shop.cashier.post(url, data={"csrf_token": token, "reason": "顾客取消"})
    page = (await shop.cashier.get(TILL)).text

    assert done.status_code == 303
    assert (await _record(database, record.purchase_id or "")).status == "reversed"
    assert url not in page  # nothing left to reverse
    assert (await balance_of(database, shop.card_id)).total == 10_000


async def test_a_merchant_admin_picks_a_store_and_not_another_merchants(
    shop: Shop, database: Database
) -> None:
    stranger = await make_merchant_with_key(database, legal_name="别家商户", with_store=True)
    choose = await shop.admin.get(TILL)
    theirs = await shop.admin.get(f"{TILL}?store_id={stranger.store_id}")
    answer = await _redeem(
        shop.admin,
        page=f"{TILL}?store_id={shop.other_store_id}",
        store_id=shop.other_store_id,
        card=shop.number,
        secret=shop.secret,
        amount="1",
    )

    assert choose.status_code == 200
    assert "/console/till/redemptions" not in choose.text
    assert theirs.status_code == 404
    assert (await _record(database, _purchase_of(answer))).store_id == shop.other_store_id


async def test_the_holder_confirms_a_large_payment_with_the_texted_code(
    shop: Shop, database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        await set_product_limits(
            session,
            shop.product_id,
            LimitValues(),
            challenge_threshold_minor=5_000,
            merchant_id=shop.merchant_id,
            actor="t",
            now=clock.now(),
        )
    asked = await _redeem(shop.cashier, card=shop.number, secret=shop.secret, amount="60")
    page = await shop.cashier.get(asked.headers["location"])
    assert 'name="code"' in page.text
    form = re.search(r'action="(/console/till/challenges/[^"]+)"', page.text)
    key = KEY.search(page.text)
    purchase = re.search(r'name="purchase_id" value="([^"]+)"', page.text)
    assert form is not None
    assert key is not None
    assert purchase is not None
    async with database.transaction() as session:
        body = await session.scalar(
            select(SandboxSmsMessage.body).order_by(SandboxSmsMessage.created_at.desc())
        )
    code = re.search(r"确认码 (\d{6})", body or "")
    assert code is not None
    token = await _csrf(shop.cashier, TILL)
    fields = {"csrf_token": token, "idempotency_key": key.group(1), "purchase_id": purchase[1]}

    wrong = await shop.cashier.post(form.group(1), data={**fields, "code": "000000"})
    wrong_page = await shop.cashier.get(wrong.headers["location"])
    right = await shop.cashier.post(
        form.group(1), data={**fields, "idempotency_key": "second", "code": code.group(1)}
    )

    assert "验证码错误" in wrong_page.text
    assert f'action="{form.group(1)}"' in wrong_page.text  # the same challenge, tried again
    assert (await _record(database, _purchase_of(right))).status == "approved"
    assert (await balance_of(database, shop.card_id)).total == 4_000
