"""Post/Redirect/Get in the console (``tongka.web.forms``): every form answers 303; the page
after it shows the message once, the field's error next to the field and what was typed
(never a password); reloading an action's address answers HTML; only valid actions show;
destructive ones need a reason; amounts in yuan are exact."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from tests.cards_support import active_product, issue
from tests.factories import make_merchant_with_key, make_platform_user
from tests.integration import test_console
from tests.integration.test_console import count, csrf_of, log_in
from tongka.cards import service
from tongka.cards.models import CardProduct
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.identity.models import Store, User
from tongka.web.forms import FLASH_COOKIE, MAX_COOKIE_CHARS

app = test_console.app  # the same fixtures as the staff console tests
browser = test_console.browser
FLASH = re.compile(r"data-flash>([^<]*)<")
STORE = {"name": "静安店", "address": "南京西路1号", "city": "上海"}


async def _merchant(browser: httpx.AsyncClient, database: Database) -> str:
    merchant = await make_merchant_with_key(database)
    await log_in(browser, merchant.admin_email, merchant.admin_password)
    return merchant.merchant_id


async def _post(browser: httpx.AsyncClient, path: str, page: str, **data: str) -> httpx.Response:
    return await browser.post(path, data={"csrf_token": await csrf_of(browser, page), **data})


def _flashes(page: httpx.Response) -> list[str]:
    return FLASH.findall(page.text)


async def test_success_redirects_and_the_message_shows_once(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _merchant(browser, database)
    created = await _post(browser, "/console/stores", "/console/stores", **STORE)
    assert (created.status_code, created.headers["location"]) == (303, "/console/stores")
    cookie = created.headers["set-cookie"]
    assert f"{FLASH_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/console" in cookie
    assert "门店已创建" not in cookie  # sealed, not readable
    first = await browser.get("/console/stores")
    assert _flashes(first) == ["门店已创建。"]
    assert (await count(database, Store)) == 1
    again = await browser.get("/console/stores")
    assert _flashes(again) == []  # read once, then gone


async def test_an_error_comes_back_next_to_its_field_with_what_was_typed(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _merchant(browser, database)
    refused = await _post(browser, "/console/stores", "/console/stores", **{**STORE, "city": ""})
    assert (refused.status_code, refused.headers["location"]) == (303, "/console/stores")
    page = await browser.get("/console/stores")
    assert page.status_code == 200
    assert _flashes(page) == ["请检查下方标出的字段。"]
    city = re.search(
        r'<label class="field invalid">[^<]*<input[^>]*name="city".*?</label>', page.text, re.S
    )
    assert city is not None
    assert 'class="field-error"' in city.group(0)
    assert page.text.count('class="field-error"') == 1  # once, at its field
    assert 'value="静安店"' in page.text
    assert 'value="南京西路1号"' in page.text
    assert await count(database, Store) == 0


async def test_a_password_is_never_typed_back(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _merchant(browser, database)
    form = {
        "email": "cashier@example.com",
        "display_name": "收银员小王",
        "role": "cashier",
        "password": "short pw1",
    }
    refused = await _post(browser, "/console/users", "/console/users", **form)
    assert refused.status_code == 303
    page = await browser.get("/console/users")
    assert 'class="field-error"' in page.text
    assert 'value="cashier@example.com"' in page.text
    assert 'value="收银员小王"' in page.text
    assert "short pw1" not in page.text
    assert "short pw1" not in refused.headers["set-cookie"]
    assert await count(database, User) == 1  # the admin only


async def test_an_amount_with_three_decimals_is_refused_at_its_field(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _merchant(browser, database)
    form = {
        "name": "礼品卡",
        "bin_prefix": "62770011",
        "max_balance": "999.995",
        "face_values": "100,500",
    }
    refused = await _post(browser, "/console/card_products", "/console/card_products", **form)
    assert refused.status_code == 303
    page = await browser.get("/console/card_products")
    assert "金额以元为单位，最多两位小数" in page.text
    assert 'value="999.995"' in page.text  # typed, shown again to correct
    english = await _post(  # the message is in the language of the page that posted
        browser,
        "/console/card_products",
        "/console/card_products?lang=en",
        **{**form, "max_balance": "abc"},
    )
    assert english.status_code == 303
    page = await browser.get("/console/card_products?lang=en")
    assert "Type an amount in yuan" in page.text
    assert await count(database, CardProduct) == 0
    exact = await _post(
        browser,
        "/console/card_products",
        "/console/card_products",
        **{**form, "max_balance": "999.99"},
    )
    assert exact.status_code == 303
    assert _flashes(await browser.get("/console/card_products")) == [
        "The card product was created."
    ]
    async with database.transaction() as session:
        [product] = (await session.scalars(select(CardProduct))).all()
    assert product.max_balance == 99_999


async def test_a_get_on_an_action_address_answers_html(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    merchant_id = await _merchant(browser, database)
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), merchant_id=merchant_id)
        issued = await issue(session, product.id, clock.now(), merchant_id=merchant_id)
    page = f"/console/cards/{issued.card.id}"
    reload = await browser.get(f"{page}/freeze")
    assert (reload.status_code, reload.headers["location"]) == (303, page)
    keys = await browser.get("/console/api_keys/key_x/revoke")
    assert (keys.status_code, keys.headers["location"]) == (303, "/console/api_keys")
    unknown = await browser.get("/console/no_such_page")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "页面不存在" in unknown.text
    put = await browser.put("/console/stores")
    assert put.status_code == 405
    assert put.headers["content-type"].startswith("text/html")
    api = await browser.get("/v1/no_such_thing")
    assert api.headers["content-type"].startswith("application/json")  # the API keeps JSON


async def test_a_card_page_offers_only_the_actions_its_status_allows(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    merchant_id = await _merchant(browser, database)
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), merchant_id=merchant_id)
        issued = await issue(session, product.id, clock.now(), merchant_id=merchant_id)
        await service.activate_card(session, issued.card.id, actor="t", now=clock.now())
    page = f"/console/cards/{issued.card.id}"
    active = (await browser.get(page)).text
    for action in ("freeze", "report_lost", "close"):
        assert f'action="{page}/{action}"' in active, action
    for action in ("unfreeze", "reissue"):
        assert f'action="{page}/{action}"' not in active, action
    lost = await _post(browser, f"{page}/report_lost", page, reason="持卡人遗失")
    assert lost.status_code == 303
    after_loss = await browser.get(page)
    assert _flashes(after_loss) == ["卡片已挂失；补卡后余额将转入新卡。"]
    assert f'action="{page}/reissue"' in after_loss.text
    assert f'action="{page}/freeze"' not in after_loss.text
    reissued = await _post(browser, f"{page}/reissue", page, reason="持卡人遗失")
    assert reissued.status_code == 200  # the new card's secret, shown on this response
    after = await browser.get(page)  # the old card is closed now
    assert "data-card-actions" not in after.text  # a closed card offers nothing (no freeze)
    assert f"{page}/freeze" not in after.text


async def test_a_destructive_action_without_a_reason_is_refused(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    merchant_id = await _merchant(browser, database)
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), merchant_id=merchant_id)
        issued = await issue(session, product.id, clock.now(), merchant_id=merchant_id)
        await service.activate_card(session, issued.card.id, actor="t", now=clock.now())
    page = f"/console/cards/{issued.card.id}"
    refused = await _post(browser, f"{page}/report_lost", page, reason="  ")
    assert (refused.status_code, refused.headers["location"]) == (303, page)
    shown = await browser.get(page)
    assert "请填写原因" in shown.text
    assert '<details class="confirm" open>' in shown.text  # the confirmation opens again
    async with database.transaction() as session:
        assert (await service.get_card(session, issued.card.id)).status == "active"


async def test_a_forged_flash_is_ignored_and_a_big_one_stays_small(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _merchant(browser, database)
    browser.cookies.set(FLASH_COOKIE, "AAAAforged", domain="test.local", path="/console")
    page = await browser.get("/console/stores")
    assert page.status_code == 200
    assert _flashes(page) == []
    huge = {**STORE, "city": "", "address": "长" * 5000, "latitude": "x" * 5000}
    refused = await _post(browser, "/console/stores", "/console/stores", **huge)
    flash = refused.headers["set-cookie"].split(";")[0]
    assert len(flash) < MAX_COOKIE_CHARS
    assert _flashes(await browser.get("/console/stores")) == ["请检查下方标出的字段。"]


async def test_a_merchant_page_offers_its_valid_decisions_to_the_platform_only(
    browser: httpx.AsyncClient, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    email, password = await make_platform_user(database)
    await log_in(browser, email, password)
    page = f"/console/merchants/{merchant.merchant_id}"
    shown = await browser.get(page)
    assert f'action="{page}/suspend"' in shown.text
    assert f'action="{page}/approve"' not in shown.text  # active already
    refused = await _post(browser, f"{page}/suspend", page, back=page)
    assert (refused.status_code, refused.headers["location"]) == (303, page)
    assert "请填写原因" in (await browser.get(page)).text
    suspended = await _post(browser, f"{page}/suspend", page, back=page, reason="投诉核查中")
    assert suspended.status_code == 303
    after = await browser.get(page)
    assert _flashes(after) == ["商户已暂停。"]
    assert f'action="{page}/approve"' in after.text
    assert f'action="{page}/suspend"' not in after.text
