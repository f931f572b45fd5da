"""回单查验 and a receipt's page: public, Chinese first, the QR code and the PDF link, and
refusals answered as pages."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from tests.receipts_support import issued, refund_facts
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.sales.receipts import Receipt


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_check_page_takes_a_code_and_shows_the_receipt(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(sqlite_database, settings, clock.now())
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with _client(app) as client:
        form = await client.get("/console/receipts")
        typed = receipt.code.lower().replace("-", " ")
        sent = await client.get("/console/receipts", params={"code": typed})
        page = await client.get(f"/console/receipts/{receipt.code}")
    assert form.status_code == 200
    assert "回单查验" in form.text
    assert 'name="code"' in form.text
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/console/receipts/{receipt.code}"
    assert page.status_code == 200
    html = page.text
    for expected in (
        "电子回单",
        "已验证",
        "上海测试百货有限公司",
        "¥1,000.00",
        "¥500.00",
        "¥50.00",
        "微信支付",
        "购卡",
        "招商银行 **** 1234",
        "2026-03-01 10:30",  # 02:30 UTC in Shanghai
        receipt.code,
        f'href="/v1/receipts/{receipt.code}.pdf"',
        f"http://127.0.0.1:8000/console/receipts/{receipt.code}",
    ):
        assert expected in html, expected
    assert '<svg role="img" viewBox=' in html
    assert "<title>扫码查验本回单</title>" in html


async def test_the_page_speaks_english_when_asked(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(sqlite_database, settings, clock.now())
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with _client(app) as client:
        page = await client.get(f"/console/receipts/{receipt.code}", params={"lang": "en"})
    assert page.status_code == 200
    assert "Verified" in page.text
    assert "WeChat Pay" in page.text
    assert "Card purchase" in page.text


async def test_a_refund_page_links_the_original_receipt(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    original = await issued(sqlite_database, settings, clock.now())
    refund = await issued(sqlite_database, settings, clock.now(), refund_facts(30000))
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with _client(app) as client:
        page = await client.get(f"/console/receipts/{refund.code}")
    assert page.status_code == 200
    assert "退款金额" in page.text
    assert f'href="/console/receipts/{original.code}"' in page.text
    assert "¥300.00" in page.text


async def test_refusals_are_answered_as_the_check_page(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(sqlite_database, settings, clock.now())
    settings = settings.model_copy(update={"receipt_check_rate_limit": "4 per minute"})
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with _client(app) as client:
        unknown = await client.get("/console/receipts/ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ")
        ill_formed = await client.get("/console/receipts", params={"code": "不是验证码"})
        async with sqlite_database.transaction() as session:
            await session.execute(
                update(Receipt).where(Receipt.id == receipt.id).values(amount_minor=1)
            )
        tampered = await client.get(f"/console/receipts/{receipt.code}")
        await client.get(f"/console/receipts/{receipt.code}")
        limited = await client.get(f"/console/receipts/{receipt.code}")
    assert unknown.status_code == 404
    assert "没有与该验证码对应的回单" in unknown.text
    assert ill_formed.status_code == 404
    assert "没有与该验证码对应的回单" in ill_formed.text
    assert tampered.status_code == 409
    assert "该回单未通过验证" in tampered.text
    assert "上海测试百货有限公司" not in tampered.text
    assert limited.status_code == 429
    assert "查验回单次数过多" in limited.text
    assert 'name="code"' in limited.text  # the form again
