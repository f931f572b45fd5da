"""The card console pages over HTTP: products and review, search, detail and lifecycle
actions, batches and the one-time export; masked numbers; tenant walls."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.cards_support import KEYS, active_product, funded_card, issue, make_holder
from tests.factories import make_consumer_with_token, make_merchant_with_key, make_platform_user
from tongka.api.app import create_app
from tongka.cards import export, service
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PRODUCT_FORM = {
    "name": "Console gift card",
    "bin_prefix": "62770011",
    "number_length": "16",
    "max_balance": "1000",
    "face_values": "100,500",
    "validity_months": "36",
    "form": "virtual",
    "breakage_policy": "forfeit",
}


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


async def _browser(app: FastAPI, email: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    token = await _csrf(client, "/console/login")
    answer = await client.post(
        "/console/login", data={"csrf_token": token, "email": email, "password": password}
    )
    assert answer.status_code == 303, answer.text
    return client


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    match = CSRF.search((await client.get(path)).text)
    assert match is not None, path
    return match.group(1)


async def _post(client: httpx.AsyncClient, path: str, page: str, **data: str) -> httpx.Response:
    return await client.post(path, data={"csrf_token": await _csrf(client, page), **data})


@pytest.fixture
async def browsers(
    app: FastAPI, database: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]]:
    mine = await make_merchant_with_key(database)
    other = await make_merchant_with_key(database, legal_name="别家商户有限公司")
    platform_email, platform_password = await make_platform_user(database)
    merchant = await _browser(app, mine.admin_email, mine.admin_password)
    intruder = await _browser(app, other.admin_email, other.admin_password)
    platform = await _browser(app, platform_email, platform_password)
    yield merchant, intruder, platform
    for client in (merchant, intruder, platform):
        await client.aclose()


async def _approved_product(
    merchant: httpx.AsyncClient, platform: httpx.AsyncClient, database: Database
) -> str:
    created = await _post(
        merchant, "/console/card_products", "/console/card_products", **PRODUCT_FORM
    )
    assert created.status_code == 303, created.text
    async with database.transaction() as session:
        [product] = await service.list_products(session, merchant_id=None)
    submitted = await _post(
        merchant, f"/console/card_products/{product.id}/submit", "/console/card_products"
    )
    assert submitted.status_code == 303
    approved = await _post(
        platform, f"/console/card_products/{product.id}/approve", "/console/card_products"
    )
    assert approved.status_code == 303, approved.text
    return product.id


async def test_a_product_is_created_reviewed_and_a_card_managed_from_the_console(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
    database: Database,
    clock: FixedClock,
) -> None:
    merchant, intruder, platform = browsers
    product_id = await _approved_product(merchant, platform, database)
    async with database.transaction() as session:
        product = await service.get_product(session, product_id)
        assert (product.status, product.max_balance, product.face_values) == (
            "active",
            100_000,
            [10_000, 50_000],
        )
        issued = await issue(session, product_id, clock.now(), merchant_id=product.merchant_id)
        await service.activate_card(session, issued.card.id, actor="t", now=clock.now())
    listed = await merchant.get("/console/cards", params={"last4": issued.number[-4:]})
    assert issued.card.id in listed.text
    assert issued.number not in listed.text
    assert f"{issued.number[:4]} **** **** {issued.number[-4:]}" in listed.text
    page = f"/console/cards/{issued.card.id}"
    frozen = await _post(merchant, f"{page}/freeze", page, reason="customer asked")
    assert frozen.status_code == 303
    async with database.transaction() as session:
        assert (await service.get_card(session, issued.card.id)).status == "frozen"
    refused = await _post(merchant, f"{page}/freeze", page)
    assert (refused.status_code, refused.headers["location"]) == (303, page)
    shown = await merchant.get(page, params={"lang": "en"})
    assert 'class="alert error"' in shown.text
    assert "frozen" in shown.text
    assert "/freeze" not in shown.text  # a frozen card offers no freeze (only valid actions)
    assert (await intruder.get(page)).status_code == 404
    assert (await _post(intruder, f"{page}/unfreeze", "/console/cards")).status_code == 404
    assert issued.card.id not in (await intruder.get("/console/cards")).text
    without_reason = await _post(merchant, f"{page}/report_lost", page)
    assert without_reason.status_code == 303
    async with database.transaction() as session:
        assert (await service.get_card(session, issued.card.id)).status == "frozen"
    lost = await _post(merchant, f"{page}/report_lost", page, reason="holder lost it")
    assert lost.status_code == 303
    reissued = await _post(merchant, f"{page}/reissue", page, reason="holder lost it")
    assert reissued.status_code == 200
    assert reissued.headers["hx-replace-url"].startswith("/console/cards/")
    new_number = re.search(r"data-new-number>(\d+)<", reissued.text)
    assert new_number is not None
    assert new_number.group(1) != issued.number
    assert reissued.headers["cache-control"] == "no-store"  # the new number and secret


async def test_a_batch_is_created_in_the_console_and_its_export_taken_once(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
    database: Database,
    clock: FixedClock,
) -> None:
    merchant, intruder, platform = browsers
    product_id = await _approved_product(merchant, platform, database)
    created = await _post(
        merchant,
        "/console/card_batches",
        "/console/card_batches",
        product_id=product_id,
        count="3",
        face_value="100",
        export_password="a long export password",
    )
    assert created.status_code == 303, created.text
    async with database.transaction() as session:
        [batch] = await service.list_batches(session, merchant_id=None)
    await service.run_batch(database, batch.id, keys=KEYS, now=clock.now())
    progress = await merchant.get(
        "/console/card_batches", params={"rows": "1"}, headers={"HX-Request": "true"}
    )
    assert "3 / 3" in progress.text
    assert (
        await _post(intruder, f"/console/card_batches/{batch.id}/export", "/console/card_batches")
    ).status_code == 404
    taken = await _post(
        merchant, f"/console/card_batches/{batch.id}/export", "/console/card_batches"
    )
    assert taken.status_code == 200
    rows = list(export.decrypt_file(taken.text, "a long export password"))
    assert len(rows) == 4
    assert taken.headers["cache-control"] == "no-store"
    again = await _post(
        merchant, f"/console/card_batches/{batch.id}/export", "/console/card_batches"
    )
    assert (again.status_code, again.headers["location"]) == (303, "/console/card_batches")
    assert 'class="alert error"' in (await merchant.get("/console/card_batches")).text
    reload = await merchant.get(f"/console/card_batches/{batch.id}/export")
    page = f"/console/card_batches/{batch.id}"  # the batch's own page, behind its action
    assert (reload.status_code, reload.headers["location"]) == (303, page)


async def test_a_holder_sees_their_cards_on_the_home_page(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    holder = await make_consumer_with_token(database)
    async with database.transaction() as session:
        product = await active_product(
            session, clock.now(), is_named=True, max_balance=500_000, validity_months=None
        )
        mine = await funded_card(
            session, clock.now(), product, amount=12_300, holder_id=holder.consumer_id
        )
        someone_else = await make_holder(session, clock.now())
        others = await funded_card(
            session, clock.now(), product, amount=100, holder_id=someone_else
        )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", cookies={"tongka_session": holder.token}
    ) as client:
        home = await client.get("/console/me")
    assert home.status_code == 200
    assert f"{mine.number[:4]} **** **** {mine.number[-4:]}" in home.text
    assert "¥123.00" in home.text
    assert mine.number not in home.text
    assert others.card.id not in home.text
