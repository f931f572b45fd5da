"""Statement files uploaded through HTTP (``POST /v1/reconciliation_statements``): a
channel's bill matched, the reserve account's bank statement imported and its balance
reconciled; the same file again changes nothing; a bad file is refused naming its line
and leaves nothing behind; the statement route has its own body limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import func, select

from tests.factories import api_client, make_merchant_with_key, make_platform_key
from tests.reconciliation_support import DAY, add_payments, at, line, payment_row
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.reconciliation.bank import settlement_note
from tongka.reconciliation.models import BankStatement, ChannelLine, ReconciliationRun
from tongka.reconciliation.writers import BankEntry, bank_statement, wechat_bill

URL = "/v1/reconciliation_statements"
CSV = {"Content-Type": "text/csv"}


def _bill() -> bytes:
    return b"".join(wechat_bill([line("pay_1", 10_000, 60), line("pay_long", 5_000, 30)]))


def _bank() -> bytes:
    note = settlement_note("wechat", DAY)
    return b"".join(bank_statement([BankEntry(at(DAY, 18), True, 9_940, note)], opening_minor=0))


async def _count(database: Database, model: type) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_upload_a_bill_and_a_bank_statement(settings: Settings, database: Database) -> None:
    # given a payment we hold and finance's key, the day after
    async with database.transaction() as session:
        await add_payments(session, [payment_row("pay_1", 10_000, 60, at())])
    app = create_app(settings, database=database, clock=FixedClock(at(DAY + timedelta(days=1))))
    finance = await make_platform_key(database, role="finance")
    day = {"statement_date": DAY.isoformat()}
    async with api_client(app, finance) as client:
        # when the day's WeChat Pay bill is uploaded, twice
        first = await client.post(URL, params={**day, "channel": "wechat"}, content=_bill())
        again = await client.post(URL, params={**day, "channel": "wechat"}, content=_bill())
        # then the first made the run (one 长款), the second answers it unchanged
        assert first.status_code == 201, first.text
        run = first.json()
        assert (run["line_count"], run["exception_count"]) == (2, 1)
        assert run["report"]["exceptions_by_kind"] == {"long": 1}
        assert again.status_code == 200, again.text
        assert again.json()["id"] == run["id"]
        assert await _count(database, ChannelLine) == 2

        # when the reserve account's statement of the day is uploaded (streamed, chunked)
        async def pieces() -> AsyncIterator[bytes]:
            yield _bank()[:50]
            yield _bank()[50:]

        reserve = await client.post(
            URL, params={**day, "channel": "reserve"}, content=pieces(), headers=CSV
        )
        # then the reserve's balance is reconciled (nothing posted in the ledger: a
        # difference) and the channel run's bank leg is checked by it
        assert reserve.status_code == 201, reserve.text
        assert reserve.json()["channel"] == "reserve"
        assert reserve.json()["bank_balance"]["amount"] == 9_940
        assert reserve.json()["report"]["exceptions_by_kind"] == {"reserve_balance": 1}
        repeat = await client.post(URL, params={**day, "channel": "reserve"}, content=_bank())
        assert (repeat.status_code, repeat.json()["id"]) == (200, reserve.json()["id"])
        assert await _count(database, BankStatement) == 1


async def test_a_bad_file_changes_nothing(settings: Settings, database: Database) -> None:
    app = create_app(settings, database=database, clock=FixedClock(at(DAY + timedelta(days=1))))
    finance = await make_platform_key(database, role="finance")
    day = {"statement_date": DAY.isoformat()}
    broken = _bill().replace(b"100.00", b"1x0.00", 1)
    async with api_client(app, finance) as client:
        bad = await client.post(URL, params={**day, "channel": "wechat"}, content=broken)
        empty = await client.post(URL, params={**day, "channel": "wechat"}, content=b"")
        no_balance = await client.post(
            URL,
            params={**day, "channel": "reserve"},
            content="交易日期,金额\n2026-12-01,1.00\n".encode(),
        )
        today = await client.post(
            URL,
            params={"statement_date": (DAY + timedelta(days=1)).isoformat(), "channel": "wechat"},
            content=_bill(),
        )
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"]["code"] == "reconciliation_statement_invalid"
    assert empty.json()["error"]["code"] == "reconciliation_statement_empty"
    assert no_balance.json()["error"]["code"] == "reconciliation_statement_invalid"
    assert today.json()["error"]["code"] == "reconciliation_day_not_over"
    for model in (ReconciliationRun, ChannelLine, BankStatement):
        assert await _count(database, model) == 0


async def test_who_may_upload_and_the_body_limit(settings: Settings, database: Database) -> None:
    settings.max_request_body_bytes = 1000
    settings.max_statement_upload_bytes = 4000
    app = create_app(settings, database=database, clock=FixedClock(at(DAY + timedelta(days=1))))
    merchant = await make_merchant_with_key(database)
    params = {"statement_date": DAY.isoformat(), "channel": "wechat"}
    big = _bill() + b" " * 2000  # over the app's limit, within the statement route's
    for role, status in (("admin", 201), ("finance", 200), ("support", 403), ("risk", 403)):
        key = await make_platform_key(database, role=role)
        async with api_client(app, key) as client:
            answer = await client.post(URL, params=params, content=big)
        assert answer.status_code == status, (role, answer.text)
    async with api_client(app, merchant.api_key) as client:
        assert (await client.post(URL, params=params, content=_bill())).status_code == 403
        too_big = await client.post(URL, params=params, content=b"x" * 5000)
        assert too_big.status_code == 413
        elsewhere = await client.post("/v1/reconciliations", content=b"x" * 2000)
        assert elsewhere.status_code == 413
