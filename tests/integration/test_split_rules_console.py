"""分账规则 on the console (``/console/split_rules``): platform finance writes a pair's next
version with the form (percents typed as people say them, a 30 % cap, the remainder mode),
a refused form says what is wrong next to the field, in Chinese first; a merchant of the
pair reads it, a merchant outside it sees nothing, and neither may write."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from tests.factories import TEST_PASSWORD, make_merchant_with_key, make_platform_user
from tests.integration import test_console
from tests.integration.test_console import csrf_of, log_in
from tongka.clock import FixedClock, business_date
from tongka.db import Database
from tongka.settlement.models import SplitRuleRow

app = test_console.app
browser = test_console.browser
PAGE = "/console/split_rules"


def _form(token: str, issuer: str, acceptor: str, day: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "issuer_merchant_id": issuer,
        "acceptor_merchant_id": acceptor,
        "effective_date": day,
        "issuer_percent": "70",
        "issuer_cap_percent": "30",
        "acceptor_percent": "25",
        "platform_percent": "5",
        "remainder": "largest_remainder",
        "excess_party": "acceptor",
        **overrides,
    }


async def test_finance_writes_a_three_way_rule_and_the_pair_reads_it(
    app: FastAPI, browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    issuer = await make_merchant_with_key(database, legal_name="发卡测试商户")
    acceptor = await make_merchant_with_key(database, legal_name="受理测试商户")
    outsider = await make_merchant_with_key(database, legal_name="无关测试商户")
    today = business_date(clock.now(), "Asia/Shanghai").isoformat()
    email, password = await make_platform_user(database, role="finance")
    assert (await log_in(browser, email, password)).status_code == 303
    token = await csrf_of(browser, PAGE)
    ids = (issuer.merchant_id, acceptor.merchant_id)
    # a refused form: the percents add up to 95, said in Chinese; nothing is written
    short = _form(token, *ids, today, platform_percent="")
    assert (await browser.post(PAGE, data=short)).status_code == 303
    refused = (await browser.get(PAGE)).text
    assert "各方比例之和不是一百" in refused
    same = _form(token, issuer.merchant_id, issuer.merchant_id, today)
    assert (await browser.post(PAGE, data=same)).status_code == 303
    assert "发卡商户与受理商户是同一商户" in (await browser.get(PAGE)).text
    bad_percent = _form(token, *ids, today, issuer_percent="七十")
    assert (await browser.post(PAGE, data=bad_percent)).status_code == 303
    assert 'aria-describedby="issuer_percent-error"' in (await browser.get(PAGE)).text
    async with database.transaction() as session:
        assert (await session.scalars(select(SplitRuleRow))).all() == []
    # the rule is written: 70 % capped at 30 %, 25 %, 5 %
    assert (await browser.post(PAGE, data=_form(token, *ids, today))).status_code == 303
    async with database.transaction() as session:
        [row] = (await session.scalars(select(SplitRuleRow))).all()
    assert row.rule == {
        "shares": [
            {"party": "issuer", "percent": "0.7", "fixed": 0, "cap_percent": "0.3", "cap": None},
            {"party": "acceptor", "percent": "0.25", "fixed": 0, "cap_percent": None, "cap": None},
            {"party": "platform", "percent": "0.05", "fixed": 0, "cap_percent": None, "cap": None},
        ],
        "remainder": "largest_remainder",
        "remainder_party": None,
        "excess_party": "acceptor",
    }
    listed = (await browser.get(PAGE)).text
    assert f'data-split-pair="{issuer.merchant_id}:{acceptor.merchant_id}"' in listed
    assert f'data-split-rule-id="{row.id}"' in listed
    # the pair's merchants read it without the form; another merchant sees nothing
    for merchant, sees in ((acceptor, True), (outsider, False)):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as reader:
            await log_in(reader, merchant.admin_email, TEST_PASSWORD)
            page = await reader.get(PAGE)
            assert page.status_code == 200
            assert (f'data-split-rule-id="{row.id}"' in page.text) is sees
            assert 'name="issuer_percent"' not in page.text
            reader_token = await csrf_of(reader, PAGE)
            written = await reader.post(PAGE, data=_form(reader_token, *ids, today))
            assert written.status_code == 403
