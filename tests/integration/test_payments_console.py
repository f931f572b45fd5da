"""Platform console pages for payments: 支付渠道 (health, fees, enable/disable with a
reason) and 备付金 (figures, the fee-income transfer: at most what was earned, once)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from tests.factories import make_platform_user
from tests.integration import test_console
from tests.integration.test_console import csrf_of, log_in
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import AccountCode, TransferRequest, post_transfers
from tongka.ledger.system_accounts import system_account
from tongka.payments.channel import ChannelName
from tongka.payments.channel_config import settings_of
from tongka.payments.models import ReserveTransfer
from tongka.redemption.fees import merchant_payable_account

app = test_console.app
browser = test_console.browser


async def _admin(browser: httpx.AsyncClient, database: Database, role: str = "admin") -> None:
    email, password = await make_platform_user(database, role=role)
    assert (await log_in(browser, email, password)).status_code == 303


async def test_channels_page_edits_disables_and_enables(
    browser: httpx.AsyncClient, database: Database
) -> None:
    await _admin(browser, database)
    page = await browser.get("/console/channels")
    assert page.status_code == 200
    assert "支付渠道" in page.text
    assert "微信支付" in page.text
    assert "银联" in page.text
    token = await csrf_of(browser, "/console/channels")
    # a new fee and limits
    saved = await browser.post(
        "/console/channels/alipay",
        data={
            "csrf_token": token,
            "fee_rate_percent": "0.55",
            "fee_fixed": "0.10",
            "min_amount": "1",
            "max_amount": "5000",
            "preference": "40",
        },
    )
    assert (saved.status_code, saved.headers["location"]) == (303, "/console/channels")
    # a rate out of bounds is refused at its field, nothing stored
    refused = await browser.post(
        "/console/channels/wechat",
        data={
            "csrf_token": token,
            "fee_rate_percent": "30",
            "fee_fixed": "0",
            "min_amount": "0.01",
        },
    )
    assert refused.status_code == 303
    # disabling needs a reason
    no_reason = await browser.post("/console/channels/unionpay/disable", data={"csrf_token": token})
    assert no_reason.status_code == 303
    disabled = await browser.post(
        "/console/channels/unionpay/disable", data={"csrf_token": token, "reason": "银联维护"}
    )
    assert disabled.status_code == 303
    async with database.transaction() as session:
        alipay = await settings_of(session, ChannelName.ALIPAY, "CNY")
        wechat = await settings_of(session, ChannelName.WECHAT, "CNY")
        unionpay = await settings_of(session, ChannelName.UNIONPAY, "CNY")
    assert (str(alipay.fee.rate), alipay.fee.fixed_minor, alipay.min_amount_minor) == (
        "0.0055",
        10,
        100,
    )
    assert (alipay.max_amount_minor, alipay.preference) == (500_000, 40)
    assert wechat.is_default
    assert unionpay.is_enabled is False
    listing = (await browser.get("/console/channels")).text
    assert "/console/channels/unionpay/enable" in listing
    enabled = await browser.post("/console/channels/unionpay/enable", data={"csrf_token": token})
    assert enabled.status_code == 303
    async with database.transaction() as session:
        assert (await settings_of(session, ChannelName.UNIONPAY, "CNY")).is_enabled


async def test_reserve_page_moves_fee_income_once_and_never_beyond_it(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
        fees = await system_account(session, AccountCode.FEE_INCOME, "CNY", now=now)
        await post_transfers(
            session,
            [TransferRequest("fee", reserve, fees, 1_000, "CNY", "redemption_fee")],
            now=now,
        )
    await _admin(browser, database, role="finance")
    page = await browser.get("/console/reserve")
    assert page.status_code == 200
    assert "备付金" in page.text
    assert 'data-cover="ok"' in page.text
    assert 'data-movable="1000"' in page.text
    token = await csrf_of(browser, "/console/reserve")
    match = re.search(r'name="transfer_id" value="([^"]+)"', page.text)
    assert match is not None
    form = {"csrf_token": token, "transfer_id": match.group(1), "amount": "6.00", "memo": "十二月"}
    for _ in range(2):  # a double submit
        assert (await browser.post("/console/reserve/transfers", data=form)).status_code == 303
    too_much = {**form, "transfer_id": "web-other", "amount": "4.01"}
    assert (await browser.post("/console/reserve/transfers", data=too_much)).status_code == 303
    async with database.transaction() as session:
        moved = (await session.scalars(select(ReserveTransfer))).all()
    assert [(t.amount_minor, t.memo) for t in moved] == [(600, "十二月")]
    after = (await browser.get("/console/reserve")).text
    assert 'data-movable="400"' in after


async def test_reserve_page_shows_a_shortfall_and_the_platform_makes_it_good(
    browser: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
        expense = await system_account(session, AccountCode.CHANNEL_FEE_EXPENSE, "CNY", now=now)
        owed = await merchant_payable_account(session, "mch_test", "CNY", now=now)
        await post_transfers(
            session,
            [
                TransferRequest("load", reserve, owed, 10_000, "CNY", "test_load"),
                TransferRequest("stmt-fee", expense, reserve, 60, "CNY", "channel_fee"),
            ],
            now=now,
        )
    await _admin(browser, database, role="finance")
    token = await csrf_of(browser, "/console/reserve")
    page = await browser.get("/console/reserve")
    assert 'data-cover="short"' in page.text
    assert 'data-shortfall="60"' in page.text
    funding = re.findall(r'name="transfer_id" value="([^"]+)"', page.text)[1]
    form = {
        "csrf_token": token,
        "transfer_id": funding,
        "direction": "to_reserve",
        "amount": "0.60",
        "memo": "渠道手续费",
    }
    for _ in range(2):  # a double submit
        assert (await browser.post("/console/reserve/transfers", data=form)).status_code == 303
    async with database.transaction() as session:
        moved = (await session.scalars(select(ReserveTransfer))).all()
    assert [(t.direction, t.amount_minor) for t in moved] == [("to_reserve", 60)]
    after = (await browser.get("/console/reserve")).text
    assert 'data-direction="to_reserve"' in after
    assert 'data-cover="ok"' in after
    assert "data-shortfall" not in after


async def test_support_sees_no_reserve(browser: httpx.AsyncClient, database: Database) -> None:
    await _admin(browser, database, role="support")
    assert (await browser.get("/console/reserve")).status_code == 403
    assert (await browser.get("/console/channels")).status_code == 200
