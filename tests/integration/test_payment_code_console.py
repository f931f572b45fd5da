"""The holder's payment code page (付款码): a fresh code for one of their active cards as
a QR code, a barcode and digits, refreshed by HTMX, never cached; the code pays once."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from tests.cards_support import MERCHANT, active_product, ensure_merchant, funded_card
from tests.factories import make_consumer_with_token
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.redemption.payment_codes import PaymentCodeRefused, resolve_payment_code
from tongka.web.codes import code128_modules

PAGE = "/console/me/payment_code"
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
CODE = re.compile(r'data-payment-code="(\d{18})"')


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


async def _holder_with_card(
    app: FastAPI, database: Database, clock: FixedClock
) -> tuple[httpx.AsyncClient, str]:
    holder = await make_consumer_with_token(database, now=clock.now())
    async with database.transaction() as session:
        await ensure_merchant(session, MERCHANT, clock.now())
        product = await active_product(session, clock.now())
        issued = await funded_card(
            session, clock.now(), product, amount=5_000, holder_id=holder.consumer_id
        )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        cookies={SESSION_COOKIE: holder.token},
    )
    return client, issued.card.id


async def _fresh(client: httpx.AsyncClient, card_id: str) -> httpx.Response:
    page = await client.get(PAGE)
    token = CSRF.search(page.text)
    assert token is not None
    return await client.post(
        PAGE,
        data={"card_id": card_id},
        headers={"X-CSRF-Token": token.group(1), "HX-Request": "true"},
    )


async def test_the_page_asks_for_a_fresh_code_every_minute(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    client, card_id = await _holder_with_card(app, database, clock)
    async with client:
        page = await client.get(f"{PAGE}?card_id={card_id}")
        card_page = await client.get(f"/console/me/cards/{card_id}")

    assert page.status_code == 200
    assert 'hx-post="/console/me/payment_code"' in page.text
    assert "load, every 60s" in page.text
    assert card_id in page.text
    assert f'href="{PAGE}?card_id={card_id}"' in card_page.text


async def test_a_fresh_code_is_drawn_uncached_and_pays_once(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    client, card_id = await _holder_with_card(app, database, clock)
    async with client:
        first = await _fresh(client, card_id)
        second = await _fresh(client, card_id)

    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert '<svg viewBox="0 0' in first.text  # the QR code
    assert 'class="barcode"' in first.text
    old, new = CODE.search(first.text), CODE.search(second.text)
    assert old is not None
    assert new is not None
    assert old.group(1) != new.group(1)
    async with database.transaction() as session:
        assert await resolve_payment_code(session, new.group(1), now=clock.now()) == card_id
        with pytest.raises(PaymentCodeRefused):  # a new code ended the old one
            await resolve_payment_code(session, old.group(1), now=clock.now())


async def test_another_holders_card_gets_no_code(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    client, _ = await _holder_with_card(app, database, clock)
    other, their_card = await _holder_with_card(app, database, clock)
    async with client, other:
        refused = await _fresh(client, their_card)
        mine_only = await client.get(f"{PAGE}?card_id={their_card}")

    assert CODE.search(refused.text) is None
    assert 'role="alert"' in refused.text
    assert their_card not in mine_only.text


def test_the_barcode_is_code128_set_c_with_its_checksum() -> None:
    modules = code128_modules("881234567890123456")
    # start C, nine digit pairs, the checksum: 11 modules each; the stop: 13
    assert sum(width for _, width in modules) == 11 * 11 + 13
    assert modules[:6] == [(True, 2), (False, 1), (True, 1), (False, 2), (True, 3), (False, 2)]
    assert [is_bar for is_bar, _ in modules] == [index % 2 == 0 for index in range(len(modules))]
    assert modules[-7:] == [
        (True, 2),
        (False, 3),
        (True, 3),
        (False, 1),
        (True, 1),
        (False, 1),
        (True, 2),
    ]
