"""The console's one list component over HTTP (``tongka.web.lists``), on the cards page and
the others: filters kept across pages, previous/next and the total, sorting (an unknown
sort key ignored), the date range in the platform's zone, the streamed CSV (every row, the
caller's merchant only), the card search (full number, last four, holder phone or name),
pickers scoped by the policy, names instead of ids."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update

from tests.cards_support import active_product, issue, make_holder
from tests.factories import make_merchant_with_key, make_platform_user
from tongka.api.app import create_app
from tongka.cards.models import Card
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity
from tongka.identity.models import Consumer
from tongka.web import lists

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CARD_ROW = re.compile(r'data-card-id="(card_[0-9a-z]+)"')
MANY = 120


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


async def _browser(app: FastAPI, email: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    page = await client.get("/console/login")
    match = CSRF.search(page.text)
    assert match is not None
    answer = await client.post(
        "/console/login",
        data={"csrf_token": match.group(1), "email": email, "password": password},
    )
    assert answer.status_code == 303, answer.text
    return client


@dataclass
class World:
    mine: httpx.AsyncClient
    other: httpx.AsyncClient
    platform: httpx.AsyncClient
    merchant_id: str
    other_merchant_id: str
    product_id: str
    card_ids: list[str]  # the merchant's cards, oldest first
    other_card_ids: list[str]
    numbers: dict[str, str]  # card id -> full number


@pytest.fixture
async def world(app: FastAPI, database: Database, clock: FixedClock) -> AsyncIterator[World]:
    """``MANY`` cards of one merchant created a minute apart (oldest first), three of another."""
    now = clock.now()
    mine = await make_merchant_with_key(database, legal_name="甲方礼品有限公司")
    other = await make_merchant_with_key(database, legal_name="乙方百货有限公司")
    numbers: dict[str, str] = {}
    async with database.transaction() as session:
        product = await active_product(session, now, merchant_id=mine.merchant_id, name="甲卡")
        other_product = await active_product(
            session, now, merchant_id=other.merchant_id, name="乙卡"
        )
        card_ids, other_card_ids = [], []
        for index in range(MANY):
            issued = await issue(session, product.id, now, merchant_id=mine.merchant_id)
            card_ids.append(issued.card.id)
            numbers[issued.card.id] = issued.number
            await session.execute(
                update(Card)
                .where(Card.id == issued.card.id)
                .values(created_at=now - timedelta(minutes=MANY - index))
            )
        for _ in range(3):
            issued = await issue(session, other_product.id, now, merchant_id=other.merchant_id)
            other_card_ids.append(issued.card.id)
            numbers[issued.card.id] = issued.number
    email, password = await make_platform_user(database)
    clients = (
        await _browser(app, mine.admin_email, mine.admin_password),
        await _browser(app, other.admin_email, other.admin_password),
        await _browser(app, email, password),
    )
    yield World(
        *clients,
        merchant_id=mine.merchant_id,
        other_merchant_id=other.merchant_id,
        product_id=product.id,
        card_ids=card_ids,
        other_card_ids=other_card_ids,
        numbers=numbers,
    )
    for client in clients:
        await client.aclose()


def _rows(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return CARD_ROW.findall(page.text)


def _link(page: httpx.Response, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', page.text)
    return match.group(1).replace("&amp;", "&") if match else None


async def test_pages_keep_the_filters_and_the_sort_with_previous_next_and_a_total(
    world: World,
) -> None:
    first = await world.mine.get(
        "/console/cards", params={"status": "issued", "sort": "created_at"}
    )
    assert "共 120 条" in first.text
    assert _rows(first) == world.card_ids[:50]  # oldest first, as asked
    assert _link(first, "prev") is None
    following = _link(first, "next")
    assert following is not None
    assert "status=issued" in following
    assert "sort=created_at" in following
    assert "page=2" in following
    second = await world.mine.get(following)
    assert _rows(second) == world.card_ids[50:100]
    back = _link(second, "prev")
    assert back is not None
    assert "status=issued" in back
    assert "sort=created_at" in back
    assert _rows(await world.mine.get(back)) == world.card_ids[:50]
    third_link = _link(second, "next")
    assert third_link is not None
    third = await world.mine.get(third_link)
    assert _rows(third) == world.card_ids[100:]
    assert _link(third, "next") is None
    # the sort headers and the CSV link carry the filter too
    assert 'href="/console/cards?status=issued&amp;sort=-status"' in first.text
    assert "format=csv" in first.text
    assert "status=issued&amp;sort=created_at&amp;format=csv" in (first.text)
    # a filter matching nothing: no rows, a total of 0
    frozen = await world.mine.get("/console/cards", params={"status": "frozen"})
    assert _rows(frozen) == []
    assert "共 0 条" in frozen.text


async def test_sorting_ascending_descending_and_an_unknown_key_ignored(world: World) -> None:
    newest = _rows(await world.mine.get("/console/cards", params={"sort": "-created_at"}))
    oldest = _rows(await world.mine.get("/console/cards", params={"sort": "created_at"}))
    assert newest == list(reversed(world.card_ids))[:50]
    assert oldest == world.card_ids[:50]
    default = _rows(await world.mine.get("/console/cards"))
    assert default == newest
    for unknown in ("number_index", "-secret_hash", "created_at; drop table cards", "id"):
        page = await world.mine.get("/console/cards", params={"sort": unknown})
        assert _rows(page) == default, unknown


async def test_the_date_range_is_read_in_the_platform_time_zone(
    world: World, database: Database
) -> None:
    # 2020-03-01 16:30 UTC is 2020-03-02 00:30 in Shanghai: a 2 March card there
    late = datetime(2020, 3, 1, 16, 30, tzinfo=UTC)
    async with database.transaction() as session:
        await session.execute(
            update(Card).where(Card.id.in_(world.card_ids[:3])).values(created_at=late)
        )
    on_the_2nd = await world.mine.get(
        "/console/cards", params={"created_from": "2020-03-02", "created_to": "2020-03-02"}
    )
    assert sorted(_rows(on_the_2nd)) == sorted(world.card_ids[:3])
    assert "共 3 条" in on_the_2nd.text
    on_the_1st = await world.mine.get(
        "/console/cards", params={"created_from": "2020-03-01", "created_to": "2020-03-01"}
    )
    assert _rows(on_the_1st) == []
    since = await world.mine.get("/console/cards", params={"created_to": "2020-03-02"})
    assert sorted(_rows(since)) == sorted(world.card_ids[:3])
    # a date that is no date is ignored (and not kept in the links)
    ignored = await world.mine.get("/console/cards", params={"created_from": "yesterday"})
    assert "共 120 条" in ignored.text
    assert "yesterday" not in ignored.text


async def test_the_csv_streams_every_filtered_row_of_the_callers_merchant_only(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lists, "CSV_CHUNK", 50)  # several chunks of the keyset walk
    answer = await world.mine.get("/console/cards", params={"format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith("\ufeff".encode())  # BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header == ["卡片", "卡种", "状态", "余额", "币种", "持卡人", "创建时间"]
    assert len(body) == MANY  # beyond one page, no limit
    masked = {
        f"{world.numbers[card_id][:4]} **** **** {world.numbers[card_id][-4:]}"
        for card_id in world.card_ids
    }
    assert {row[0] for row in body} == masked
    assert {row[1] for row in body} == {"甲卡"}
    assert {row[2] for row in body} == {"未激活"}
    assert {row[3] for row in body} == {"0.00"}
    assert {row[4] for row in body} == {"CNY"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", body[0][6])
    text = answer.text
    assert "乙卡" not in text
    for number in world.numbers.values():
        assert number not in text  # never a full number
    # the filter applies to the export; English headers in English
    filtered = await world.mine.get(
        "/console/cards", params={"format": "csv", "status": "frozen", "lang": "en"}
    )
    assert filtered.content.decode("utf-8-sig").splitlines() == [
        "Card,Card product,Status,Balance,Currency,Holder,Created"
    ]
    theirs = await world.other.get("/console/cards", params={"format": "csv"})
    assert len(theirs.content.decode("utf-8-sig").splitlines()) == 1 + 3
    assert "甲卡" not in theirs.text


async def test_cards_are_found_by_full_number_last_four_holder_phone_or_name(
    world: World, database: Database, clock: FixedClock
) -> None:
    card_id = world.card_ids[7]
    number = world.numbers[card_id]
    async with database.transaction() as session:
        holder_id = await make_holder(session, clock.now())
        await session.execute(
            update(Consumer).where(Consumer.id == holder_id).values(display_name="王小明")
        )
        await session.execute(update(Card).where(Card.id == card_id).values(holder_id=holder_id))
        phone = (await identity.get_consumer(session, holder_id)).phone
    spaced = " ".join(number[start : start + 4] for start in range(0, len(number), 4))
    by_number = await world.mine.get("/console/cards", params={"number": spaced})
    assert _rows(by_number) == [card_id]
    assert number not in by_number.text
    assert spaced not in by_number.text
    assert _rows(await world.mine.get("/console/cards", params={"number": number[:-1]})) == []
    assert _rows(await world.other.get("/console/cards", params={"number": number})) == []
    same_last4 = [cid for cid in world.card_ids if world.numbers[cid][-4:] == number[-4:]]
    found = _rows(await world.mine.get("/console/cards", params={"last4": number[-4:]}))
    assert sorted(found) == sorted(same_last4)
    assert card_id in found
    by_phone = await world.mine.get("/console/cards", params={"holder": phone})
    assert _rows(by_phone) == [card_id]
    assert f"{phone[:3]}****{phone[-4:]}" in by_phone.text  # the holder, masked
    table = by_phone.text[by_phone.text.index("<tbody>") : by_phone.text.index("</tbody>")]
    assert phone not in table  # the rows show it masked (the search box keeps what was typed)
    assert _rows(await world.mine.get("/console/cards", params={"holder": "小明"})) == [card_id]
    assert _rows(await world.mine.get("/console/cards", params={"holder_id": holder_id})) == [
        card_id
    ]
    assert _rows(await world.other.get("/console/cards", params={"holder": phone})) == []


async def test_pickers_offer_only_what_the_caller_may_see(
    world: World, database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        for merchant_id, name in (
            (world.merchant_id, "甲方一号店"),
            (world.other_merchant_id, "乙方旗舰店"),
        ):
            await identity.create_store(
                session,
                merchant_id=merchant_id,
                name=name,
                address="上海市南京东路1号",
                city="上海",
                actor="test",
                now=clock.now(),
            )
    stores = await world.mine.get("/console/pickers/stores")
    assert stores.status_code == 200
    assert "甲方一号店" in stores.text
    assert "乙方旗舰店" not in stores.text
    assert "乙方旗舰店" not in (await world.mine.get("/console/pickers/stores?q=乙方")).text
    searched = await world.platform.get("/console/pickers/stores", params={"q": "旗舰"})
    assert "乙方旗舰店" in searched.text
    assert "甲方一号店" not in searched.text
    products = await world.other.get("/console/pickers/products")
    assert "乙卡" in products.text
    assert "甲卡" not in products.text
    merchants = await world.mine.get("/console/pickers/merchants")
    assert "甲方礼品有限公司" in merchants.text
    assert "乙方百货有限公司" not in merchants.text
    acceptors = await world.mine.get("/console/pickers/acceptors")
    assert "乙方百货有限公司" in acceptors.text
    assert "甲方礼品有限公司" not in acceptors.text
    # the forms and filters preload the caller's choices (no JavaScript needed)
    terminals = await world.mine.get("/console/terminals")
    assert "甲方一号店" in terminals.text
    assert "乙方旗舰店" not in terminals.text
    cards = await world.mine.get("/console/cards")
    assert f'<option value="{world.product_id}"' in cards.text
    assert "乙卡" not in cards.text


async def test_lists_and_pages_show_names_linked_instead_of_ids(
    world: World, database: Database, clock: FixedClock
) -> None:
    products = await world.platform.get("/console/card_products")
    assert f'<a href="/console/merchants/{world.merchant_id}">甲方礼品有限公司</a>' in products.text
    cards = await world.mine.get("/console/cards")
    assert f'href="/console/card_products/{world.product_id}">甲卡</a>' in cards.text
    card = await world.mine.get(f"/console/cards/{world.card_ids[0]}")
    assert "甲卡" in card.text
    linked = await world.mine.get("/console/card_products", params={"product_id": world.product_id})
    assert f'data-product-id="{world.product_id}"' in linked.text
    assert "共 1 条" in linked.text
    async with database.transaction() as session:
        store = await identity.create_store(
            session,
            merchant_id=world.merchant_id,
            name="甲方南京路店",
            address="上海市南京东路1号",
            city="上海",
            actor="test",
            now=clock.now(),
        )
        await identity.create_terminal(
            session,
            merchant_id=world.merchant_id,
            store_id=store.id,
            device_id="POS-1",
            name=None,
            actor="test",
            now=clock.now(),
        )
    terminals = await world.mine.get("/console/terminals")
    assert f'href="/console/stores?store_id={store.id}">甲方南京路店</a>' in terminals.text
    one_store = await world.mine.get("/console/stores", params={"store_id": store.id})
    assert f'data-store-id="{store.id}"' in one_store.text
    assert "共 1 条" in one_store.text


LIST_PAGES = (
    "/console/review",
    "/console/merchants",
    "/console/stores",
    "/console/terminals",
    "/console/users",
    "/console/api_keys",
    "/console/webhooks",
    "/console/events",
    "/console/card_products",
    "/console/cards",
    "/console/card_batches",
    "/console/acceptance_agreements",
)


async def test_every_list_page_has_the_pager_and_its_csv(world: World, database: Database) -> None:
    await make_merchant_with_key(database, legal_name="待审商户有限公司", active=False)
    for path in LIST_PAGES:
        page = await world.platform.get(path, params={"sort": "no_such_column", "page": "x"})
        assert page.status_code == 200, path
        assert "共 " in page.text, path
        assert 'class="table-scroll"' in page.text, path
        exported = await world.platform.get(path, params={"format": "csv"})
        assert exported.status_code == 200, path
        assert exported.headers["content-type"].startswith("text/csv"), path
        assert exported.content.startswith("\ufeff".encode()), path
    sandbox = await world.platform.get("/console/sandbox_sms", params={"format": "csv"})
    assert sandbox.headers["content-type"].startswith("text/html")  # codes are not exported


async def test_a_picker_search_answers_options_and_keeps_the_selection(world: World) -> None:
    found = await world.mine.get(
        "/console/pickers/products",
        params={"q": "甲", "selected": world.product_id, "required": "1"},
        headers={"HX-Request": "true"},
    )
    assert found.status_code == 200
    assert "<html" not in found.text  # only the options, swapped into the select
    assert f'<option value="{world.product_id}" selected>' in found.text
    assert "（请选择）" in found.text
    nothing = await world.mine.get("/console/pickers/products", params={"q": "100%_"})
    assert "无匹配结果" in nothing.text


async def test_a_page_loads_its_names_with_a_fixed_number_of_queries(
    world: World, database: Database, clock: FixedClock
) -> None:
    """No N+1: a page of 50 cards (with holders) costs as many queries as a page of one."""
    async with database.transaction() as session:
        for card_id in world.card_ids[-50:]:
            holder_id = await make_holder(session, clock.now())
            await session.execute(
                update(Card).where(Card.id == card_id).values(holder_id=holder_id)
            )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        await world.mine.get("/console/cards")
        full = len(statements)
        statements.clear()
        await world.mine.get(
            "/console/cards", params={"last4": world.numbers[world.card_ids[-1]][-4:]}
        )
        single = len(statements)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert full == single
