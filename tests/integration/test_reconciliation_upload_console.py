"""The 对账 page's upload form through HTTP: finance uploads a day's bill (multipart) and
lands on the run; the same file again shows the run unchanged; a bad file is refused next
to the file field, in Chinese, and nothing is kept; support sees no form and may not post."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from tests.integration import test_console
from tests.integration.test_console import csrf_of
from tests.integration.test_reconciliation_console import _as
from tests.reconciliation_support import DAY, add_payments, at, line, payment_row
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.reconciliation.models import ChannelLine, ReconciliationRun
from tongka.reconciliation.writers import wechat_bill

app = test_console.app
browser = test_console.browser
URL = "/console/reconciliation_statements"
RUNS = "/console/reconciliations"


async def _runs(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(ReconciliationRun)) or 0)


async def _upload(browser: httpx.AsyncClient, token: str, content: bytes) -> httpx.Response:
    fields = {"csrf_token": token, "statement_date": DAY.isoformat(), "channel": "wechat"}
    files = {"statement": ("wechat-20261201.csv", content, "text/csv")}
    return await browser.post(URL, data=fields, files=files)


async def test_upload_a_bill_in_the_console(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    clock.current = at(DAY + timedelta(days=1), 9)
    async with database.transaction() as session:
        await add_payments(session, [payment_row("pay_1", 10_000, 60, at())])
    bill = b"".join(wechat_bill([line("pay_1", 10_000, 60), line("pay_long", 5_000, 30)]))

    # support reads the page but has no form, and may not upload
    await _as(browser, database, "support")
    page = await browser.get(RUNS)
    assert 'name="statement"' not in page.text
    token = await csrf_of(browser, RUNS)
    assert (await _upload(browser, token, bill)).status_code == 403

    # finance sees the form, in Chinese
    await _as(browser, database, "finance")
    page = await browser.get(RUNS)
    assert "上传对账单文件" in page.text
    assert 'enctype="multipart/form-data"' in page.text
    token = await csrf_of(browser, RUNS)

    # a bad file: back to the form, the error next to the file field, nothing kept
    refused = await _upload(browser, token, bill.replace(b"100.00", b"1x0.00", 1))
    assert (refused.status_code, refused.headers["location"]) == (303, RUNS)
    page = await browser.get(RUNS)
    assert 'id="statement-error"' in page.text
    assert "对账单无法读取" in page.text or "无法读取对账单" in page.text
    empty = await _upload(browser, token, b"")
    assert empty.status_code == 303
    assert "对账单文件为空" in (await browser.get(RUNS)).text
    assert await _runs(database) == 0

    # the bill: the run's page, with its 长款
    made = await _upload(browser, token, bill)
    assert made.status_code == 303
    run_url = made.headers["location"]
    assert run_url.startswith(f"{RUNS}/")
    run_page = await browser.get(run_url)
    assert "对账单已导入，当日对账完成" in run_page.text
    assert "长款" in run_page.text

    # the same file again: the same run, unchanged
    again = await _upload(browser, token, bill)
    assert again.headers["location"] == run_url
    assert "该日已对过账" in (await browser.get(run_url)).text
    assert await _runs(database) == 1
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(ChannelLine)) == 2
