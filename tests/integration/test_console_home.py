"""The home pages per role, a holder's card detail and the public balance check, over HTTP
on the demo data (tests/console_world.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from tests.console_world import ConsoleWorld, build_world
from tests.integration.test_console import csrf_of
from tongka.api.app import create_app
from tongka.cards.inquiry import CLIENT_ATTEMPTS
from tongka.cards.models import Card, CardInquiryWindow
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE

# The demo: the canteen's cards hold 500 + 50 bonus, 200, and (named) 200 + 20 bonus; the
# sales demo's e-card 100 + 50 + 100; its settled week's card (settlement.demo) 1 000 less
# the week's 660.50.
CANTEEN_OUTSTANDING = "¥1,559.50"


@pytest.fixture
async def world(settings: Settings, sqlite_database: Database, clock: FixedClock) -> ConsoleWorld:
    return await build_world(sqlite_database, settings, clock.now())


@pytest.fixture
async def client(
    settings: Settings, sqlite_database: Database, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=sqlite_database, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
        yield browser


def _as(client: httpx.AsyncClient, world: ConsoleWorld, name: str) -> httpx.AsyncClient:
    client.cookies = httpx.Cookies({SESSION_COOKIE: world.caller(name).token})
    return client


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">\s*(?:<div>)?([^<]+)<', html)
    assert match is not None, name
    return match.group(1).strip()


async def test_staff_land_on_their_home_page(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    for name in ("platform admin", "merchant admin", "cashier"):
        landing = await _as(client, world, name).get("/console/")
        assert landing.headers["location"] == "/console/home", name


async def test_the_merchant_home_shows_its_cards_value_and_a_chart(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    page = await _as(client, world, "merchant admin").get("/console/home")
    assert page.status_code == 200
    # the cards demo's three, the sales demo's e-card, the settled week's card, and the
    # holder's card returned at the till (closed: issued, not active)
    assert _figure(page.text, "cards_issued") == "6"
    assert _figure(page.text, "cards_active") == "5"
    assert _figure(page.text, "outstanding") == CANTEEN_OUTSTANDING
    assert '<svg class="chart"' in page.text
    assert "近 30 天动态" in page.text
    assert "交易" in page.text


async def test_the_platform_home_shows_reviews_merchants_and_liability_by_product(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    page = await _as(client, world, "platform finance").get("/console/home")
    assert page.status_code == 200
    assert _figure(page.text, "merchants_pending") == "0"
    assert _figure(page.text, "products_pending") == "0"
    # all demo cards: canteen 1,220.00 + bookshop 300 + 100 + 10 bonus + e-card 100 + 300,
    # and the settled week's two cards (1 000 each less 660.50 and 260.00 spent)
    assert _figure(page.text, "liability") == "¥3,109.50"
    assert "示范餐饮储值卡 Canteen gift card" in page.text
    assert "¥750.00" in page.text  # that product's two cards
    assert "按状态统计商户" in page.text


async def test_a_store_bound_cashier_sees_its_store_and_its_jobs(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    page = await _as(client, world, "cashier").get("/console/home")
    assert page.status_code == 200
    assert "南京西路店" in page.text
    assert 'class="tile" href="/console/cards"' in page.text
    assert 'class="tile" href="/console/users"' not in page.text


async def test_a_holder_sees_only_its_own_cards_and_their_history(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    holder = _as(client, world, "consumer")
    home = await holder.get("/console/me")
    assert f'href="/console/me/cards/{world.consumer_card_id}"' in home.text
    assert world.other_card_id not in home.text
    card = await holder.get(f"/console/me/cards/{world.consumer_card_id}")
    assert card.status_code == 200
    assert _figure(card.text, "balance") == "¥220.00"
    assert "激活充值" in card.text  # the demo's activation top-up, in words
    assert "+¥200.00" in card.text
    assert "+¥20.00" in card.text
    other = await holder.get(f"/console/me/cards/{world.other_card_id}")
    assert other.status_code == 404


async def _check(client: httpx.AsyncClient, number: str, secret: str) -> httpx.Response:
    token = await csrf_of(client, "/console/balance")
    return await client.post(
        "/console/balance", data={"csrf_token": token, "number": number, "secret": secret}
    )


async def test_a_visitor_checks_a_balance_without_signing_in(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    assert 'href="/console/balance"' in (await client.get("/console/login")).text
    card = world.credentials["cards"]["62880101"]["cards"][0]
    answer = await _check(client, card["number"], card["secret"])
    assert answer.status_code == 200
    assert "¥550.00" in answer.text
    assert card["number"] not in answer.text  # masked
    assert answer.headers["cache-control"] == "no-store"
    refused = await client.post(
        "/console/balance", data={"number": card["number"], "secret": card["secret"]}
    )
    assert refused.status_code == 403  # no CSRF token


async def test_a_wrong_secret_and_an_unknown_number_get_the_same_answer(
    client: httpx.AsyncClient, world: ConsoleWorld, sqlite_database: Database
) -> None:
    card = world.credentials["cards"]["62880101"]["cards"][0]
    wrong = await _check(client, card["number"], "000000")
    unknown = await _check(client, "6288010199999999", "000000")
    assert (wrong.status_code, unknown.status_code) == (400, 400)
    assert "卡号或密码不正确" in wrong.text
    assert "卡号或密码不正确" in unknown.text
    assert card["number"] in wrong.text  # kept in the form (never in a URL)
    async with sqlite_database.transaction() as session:
        stored = await session.get(Card, card["card_id"])
        assert stored is not None
        assert stored.failed_secret_attempts == 1
        window = (await session.scalars(select(CardInquiryWindow))).one()
        assert window.attempts == 2


async def test_balance_checks_are_limited_per_address(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    for _ in range(CLIENT_ATTEMPTS):
        await _check(client, "6288010199999999", "000000")
    refused = await _check(client, "6288010199999999", "000000")
    assert refused.status_code == 429
    assert "查询过于频繁" in refused.text


async def test_the_home_page_speaks_english_too(
    client: httpx.AsyncClient, world: ConsoleWorld
) -> None:
    page = await _as(client, world, "merchant admin").get("/console/home?lang=en")
    assert "Cards issued" in page.text
    assert "Activity in the last 30 days" in page.text
    assert "已发卡数" not in page.text
