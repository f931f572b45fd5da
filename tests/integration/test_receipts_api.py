"""``GET /v1/receipts/{code}`` (+ ``.pdf``): public, verified facts, 404 for any unknown
code, 409 for a receipt that no longer verifies, limited per address."""

from __future__ import annotations

from sqlalchemy import update

from tests.factories import api_client
from tests.receipts_support import issued, pdf_text, refund_facts
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.sales.receipts import Receipt


async def test_anyone_with_the_code_sees_the_verified_receipt(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(database, settings, clock.now())
    app = create_app(settings, database=database, clock=clock)
    async with api_client(app) as client:  # no credential at all
        response = await client.get(f"/v1/receipts/{receipt.code}")
        typed = await client.get(f"/v1/receipts/{receipt.code.lower().replace('-', '')}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verified"] is True
    assert body["object"] == "receipt"
    assert body["code"] == receipt.code
    assert body["kind"] == "purchase"
    assert body["merchant_name"] == "上海测试百货有限公司"
    assert body["amount"] == {"amount": 100000, "currency": "CNY"}
    assert body["bonus"] == {"amount": 5000, "currency": "CNY"}
    assert body["lines"] == [
        {
            "product_name": "通卡礼品卡",
            "face_value": {"amount": 50000, "currency": "CNY"},
            "count": 2,
            "amount": {"amount": 100000, "currency": "CNY"},
        }
    ]
    assert body["payer_account_masked"] == "招商银行 **** 1234"
    assert body["paid_at"].startswith("2026-03-01T02:30:00")
    assert body["original_code"] is None
    assert body["pdf_url"] == f"/v1/receipts/{receipt.code}.pdf"
    assert typed.json() == body


async def test_an_unknown_or_ill_formed_code_is_404_alike(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    await issued(sqlite_database, settings, clock.now())
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with api_client(app) as client:
        answers = [
            await client.get(f"/v1/receipts/{code}")
            for code in ("ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ", "nope", "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ.pdf")
        ]
    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert {answer.json()["error"]["code"] for answer in answers} == {"receipt_not_found"}
    assert answers[0].json() == answers[1].json() == answers[2].json()


async def test_the_pdf_is_the_receipt(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    await issued(sqlite_database, settings, clock.now())
    refund = await issued(sqlite_database, settings, clock.now(), refund_facts(20000))
    settings = settings.model_copy(update={"public_base_url": "https://pay.tongka.test"})
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with api_client(app) as client:
        response = await client.get(f"/v1/receipts/{refund.code}.pdf")
        checked = await client.get(f"/v1/receipts/{refund.code}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f'filename="receipt-{refund.code}.pdf"' in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert "退款金额" in text
    assert f"https://pay.tongka.test/console/receipts/{refund.code}" in text
    assert checked.json()["kind"] == "refund"
    assert checked.json()["original_code"] in text


async def test_a_tampered_receipt_is_refused_not_shown(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(sqlite_database, settings, clock.now())
    async with sqlite_database.transaction() as session:
        altered = receipt.content.replace("上海测试百货有限公司", "别的公司")
        await session.execute(
            update(Receipt).where(Receipt.id == receipt.id).values(content=altered)
        )
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with api_client(app) as client:
        answers = [
            await client.get(f"/v1/receipts/{receipt.code}"),
            await client.get(f"/v1/receipts/{receipt.code}.pdf"),
        ]
    for answer in answers:
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "receipt_not_verified"
        assert "别的公司" not in answer.text


async def test_checks_are_limited_per_address(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(sqlite_database, settings, clock.now())
    settings = settings.model_copy(update={"receipt_check_rate_limit": "3 per minute"})
    app = create_app(settings, database=sqlite_database, clock=clock)
    async with api_client(app) as client:
        statuses = [
            (await client.get(f"/v1/receipts/{path}")).status_code
            for path in ("ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ", receipt.code, f"{receipt.code}.pdf")
        ]
        refused = await client.get(f"/v1/receipts/{receipt.code}")
    assert statuses == [404, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "receipt_check_rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    # another application (another process) keeps its own counts
    fresh = create_app(settings, database=sqlite_database, clock=clock)
    async with api_client(fresh) as client:
        assert (await client.get(f"/v1/receipts/{receipt.code}")).status_code == 200
