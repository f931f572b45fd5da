"""The card jobs of issue 10 in the console, over HTTP: activate an issued card (empty by
the issuer, paid by finance), merge cards, a paid batch activated by finance, the batch's
page with how to open the export, a product's page with all its terms and its review.
Every refusal leaves the card, the batch and the books as they were."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from tests.cards_support import KEYS, active_product, funded_card, grant_quota, issue
from tests.factories import TEST_PASSWORD, make_merchant_with_key, make_platform_user
from tests.integration.test_card_console import _browser, _post
from tongka.api.app import create_app
from tongka.cards import service
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@dataclass
class People:
    merchant_id: str
    admin: httpx.AsyncClient  # the issuer's merchant admin
    cashier: httpx.AsyncClient
    intruder: httpx.AsyncClient  # another merchant's admin
    finance: httpx.AsyncClient  # platform finance
    support: httpx.AsyncClient  # platform support
    reviewer: httpx.AsyncClient  # platform admin


@pytest.fixture
async def people(app: FastAPI, database: Database, clock: FixedClock) -> AsyncIterator[People]:
    mine = await make_merchant_with_key(database)
    other = await make_merchant_with_key(database, legal_name="别家商户有限公司")
    async with database.transaction() as session:
        cashier = await identity.create_user(
            session,
            email=f"cashier-{mine.merchant_id}@example.com",
            display_name="收银员",
            role="cashier",
            password=TEST_PASSWORD,
            actor="test",
            now=clock.now(),
            merchant_id=mine.merchant_id,
        )
    clients = [
        await _browser(app, mine.admin_email, TEST_PASSWORD),
        await _browser(app, cashier.email, TEST_PASSWORD),
        await _browser(app, other.admin_email, TEST_PASSWORD),
    ]
    for role in ("finance", "support", "admin"):
        email, password = await make_platform_user(database, role=role)
        clients.append(await _browser(app, email, password))
    yield People(mine.merchant_id, *clients)
    for client in clients:
        await client.aclose()


async def _card(database: Database, card_id: str) -> tuple[str, int]:
    async with database.transaction() as session:
        card = await service.get_card(session, card_id)
        return card.status, (await service.card_balance(session, card)).total


async def _issued(database: Database, clock: FixedClock, merchant_id: str) -> tuple[str, str]:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), merchant_id)
        await grant_quota(session, clock.now(), 10**12, merchant_id)
        issued = await issue(session, product.id, clock.now(), merchant_id=merchant_id)
    return product.id, issued.card.id


async def test_an_issued_card_is_activated_empty_by_its_issuer(
    people: People, database: Database, clock: FixedClock
) -> None:
    _, card_id = await _issued(database, clock, people.merchant_id)
    page = f"/console/cards/{card_id}"
    shown = await people.admin.get(page)
    assert f"{page}/activate" in shown.text
    assert f"{page}/fund" not in shown.text  # finance records payments, not the issuer
    for refused, status in ((people.cashier, 403), (people.intruder, 404), (people.finance, 403)):
        answer = await _post(refused, f"{page}/activate", "/console/password")
        assert answer.status_code == status
    assert await _card(database, card_id) == ("issued", 0)
    done = await _post(people.admin, f"{page}/activate", page, reason="会员卡")
    assert (done.status_code, done.headers["location"]) == (303, page)
    assert await _card(database, card_id) == ("active", 0)
    assert 'class="alert success"' in (await people.admin.get(page)).text
    again = await _post(people.admin, f"{page}/activate", page)
    assert again.status_code == 303
    assert 'class="alert error"' in (await people.admin.get(page)).text


async def test_finance_records_a_cards_payment_in_yuan(
    people: People, database: Database, clock: FixedClock
) -> None:
    _, card_id = await _issued(database, clock, people.merchant_id)  # face value ¥100
    page = f"/console/cards/{card_id}"
    assert f"{page}/fund" in (await people.finance.get(page)).text
    for amount, reference in (("99.99", "BANK-1"), ("100.001", "BANK-1"), ("100", "")):
        refused = await _post(
            people.finance, f"{page}/fund", page, amount=amount, transfer_reference=reference
        )
        assert refused.status_code == 303
        assert await _card(database, card_id) == ("issued", 0)
    shown = await people.finance.get(page)
    assert 'class="alert error"' in shown.text or "field-error" in shown.text
    assert 'value="100.001"' in shown.text or 'value="100"' in shown.text  # typed values kept
    for refused_client in (people.admin, people.support, people.cashier):
        answer = await _post(
            refused_client,
            f"{page}/fund",
            "/console/password",
            amount="100",
            transfer_reference="X",
        )
        assert answer.status_code == 403
    paid = await _post(
        people.finance, f"{page}/fund", page, amount="100.00", transfer_reference="BANK-2026-1"
    )
    assert (paid.status_code, paid.headers["location"]) == (303, page)
    assert await _card(database, card_id) == ("active", 10_000)
    assert "BANK-2026-1" in (await people.finance.get(page)).text


async def test_cards_are_merged_from_the_card_page(
    people: People, database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), people.merchant_id)
        target = await funded_card(session, clock.now(), product, amount=3_000)
        source = await funded_card(session, clock.now(), product, amount=2_500)
        other = await active_product(session, clock.now(), people.merchant_id)
        unrelated = await funded_card(session, clock.now(), other, amount=100)
    page = f"/console/cards/{target.card.id}"
    merge = f"{page}/merge"
    assert merge in (await people.admin.get(page)).text
    picker = await people.admin.get(merge)
    assert picker.status_code == 200
    assert source.card.id in picker.text
    assert unrelated.card.id not in picker.text  # another product: not offered
    assert source.number not in picker.text  # masked
    assert f"**** {source.number[-4:]}" in picker.text
    for refused, status in ((people.cashier, 403), (people.intruder, 404), (people.finance, 403)):
        assert (await refused.get(merge)).status_code == status
        answer = await _post(refused, merge, "/console/password", source_card_ids=source.card.id)
        assert answer.status_code == status
    nothing = await _post(people.admin, merge, merge)
    assert (nothing.status_code, nothing.headers["location"]) == (303, merge)
    wrong = await _post(people.admin, merge, merge, source_card_ids=unrelated.card.id)
    assert wrong.status_code == 303
    assert await _card(database, target.card.id) == ("active", 3_000)
    assert await _card(database, unrelated.card.id) == ("active", 100)
    done = await _post(people.admin, merge, merge, source_card_ids=source.card.id)
    assert (done.status_code, done.headers["location"]) == (303, page)
    assert await _card(database, target.card.id) == ("active", 5_500)
    assert await _card(database, source.card.id) == ("closed", 0)


async def test_finance_activates_a_paid_batch_and_the_issuer_learns_to_open_the_export(
    people: People, database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), people.merchant_id)
        await grant_quota(session, clock.now(), 10**12, people.merchant_id)
        batch = await service.create_batch(
            session,
            product.id,
            merchant_id=people.merchant_id,
            count=3,
            face_value=10_000,
            export_password="a long export password",
            actor="test",
            now=clock.now(),
        )
    await service.run_batch(database, batch.id, keys=KEYS, now=clock.now())
    page = f"/console/card_batches/{batch.id}"
    mine = await people.admin.get(page)
    assert mine.status_code == 200
    assert "tongka cards decrypt-export" in mine.text
    assert f"{batch.id}.tkx" in mine.text
    assert f"{page}/activate" not in mine.text
    assert "tongka cards decrypt-export" in (await people.admin.get("/console/card_batches")).text
    assert (await people.intruder.get(page)).status_code == 404
    shown = await people.finance.get(page)
    assert f"{page}/activate" in shown.text
    assert "¥300.00" in shown.text
    refused = await _post(
        people.finance, f"{page}/activate", page, amount="299", transfer_reference="T"
    )
    assert refused.status_code == 303
    for other_client in (people.admin, people.support):
        answer = await _post(
            other_client,
            f"{page}/activate",
            "/console/password",
            amount="300",
            transfer_reference="T",
        )
        assert answer.status_code == 403
    async with database.transaction() as session:
        assert (await service.get_batch(session, batch.id)).funded_at is None
    paid = await _post(
        people.finance, f"{page}/activate", page, amount="300", transfer_reference="BANK-B-1"
    )
    assert (paid.status_code, paid.headers["location"]) == (303, page)
    async with database.transaction() as session:
        funded = await service.get_batch(session, batch.id)
        assert funded.funding_reference == "BANK-B-1"
        cards = list(await session.scalars(service.cards_query(batch_id=batch.id)))
    assert {card.status for card in cards} == {"active"}


async def test_a_product_page_shows_every_term_and_takes_the_review(
    people: People, database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await service.create_product(
            session,
            people.merchant_id,
            service.ProductSpec(
                name="审核用礼品卡",
                currency="CNY",
                bin_prefix="62889911",
                number_length=16,
                max_balance=100_000,
                is_named=False,
                face_values=[10_000, 50_000],
                validity_months=36,
                breakage_policy=service.BreakagePolicy.EXCHANGE,
                exchange_grace_days=30,
                exchange_ratio=Decimal("0.9"),
            ),
            actor="test",
            now=clock.now(),
        )
        await service.submit_product(
            session, product.id, merchant_id=people.merchant_id, actor="t", now=clock.now()
        )
    page = f"/console/card_products/{product.id}"
    shown = await people.reviewer.get(page)
    assert shown.status_code == 200
    for term in (
        "审核用礼品卡",
        "62889911",
        "¥1,000.00",
        "¥100.00",
        "¥500.00",
        "CNY",
        ">30<",
        "0.9",
    ):
        assert term in shown.text, term
    assert f"{page}/approve" in shown.text
    assert f"{page}/reject" in shown.text
    assert (await people.admin.get(page)).status_code == 200  # the issuer reads it too
    assert f"{page}/approve" not in (await people.admin.get(page)).text
    assert (await people.intruder.get(page)).status_code == 404
    blank = await _post(people.reviewer, f"{page}/reject", page, note=" ")
    assert blank.status_code == 303
    for refused in (people.admin, people.finance, people.support):
        answer = await _post(refused, f"{page}/reject", page, note="no")
        assert answer.status_code == 403
    async with database.transaction() as session:
        assert (await service.get_product(session, product.id)).status == "pending_review"
    rejected = await _post(people.reviewer, f"{page}/reject", page, note="BIN 与其他卡种冲突")
    assert rejected.status_code == 303
    async with database.transaction() as session:
        stored = await service.get_product(session, product.id)
    assert (stored.status, stored.review_note) == ("rejected", "BIN 与其他卡种冲突")
    assert "BIN 与其他卡种冲突" in (await people.admin.get(page)).text
