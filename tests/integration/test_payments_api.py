# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Payments through HTTP: the sandbox notifies the app itself; payments are scoped to their
merchant; the platform configures channels; the reserve and its fee-income transfer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from tests.factories import api_client, make_merchant_with_key, make_platform_key
from tests.paycore_support import (  # noqa: F401 - fixtures
    RecordingListener,
    cash_payment,
    listener,
    payment_settings,
    real_now,
    start,
)
from tests.payments_support import PaymentSandbox, open_payment_sandbox, sandbox_settings  # noqa: F401
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger import AccountCode, TransferRequest, post_transfers
from tongka.ledger.system_accounts import system_account
from tongka.ledger.verify import VerifyReport, check_cover
from tongka.payments import registry
from tongka.payments.channel import ChannelName
from tongka.redemption.fees import merchant_payable_account


@pytest.fixture
def app(payment_settings: Settings, database: Database) -> FastAPI:
    return create_app(payment_settings, database=database, clock=FixedClock(real_now()))


@pytest.fixture
async def sandbox(app: FastAPI, payment_settings: Settings) -> AsyncIterator[PaymentSandbox]:
    """The gateway delivers its notifications to the app, through HTTP in process."""
    async with open_payment_sandbox(payment_settings, notify_app=app) as gateway:
        with registry.override_channels(gateway.channels):
            yield gateway


@pytest.mark.parametrize(
    "channel", [ChannelName.WECHAT, ChannelName.ALIPAY, ChannelName.UNIONPAY], ids=str
)
async def test_notify_through_http_settles_once_and_answers_the_channels_format(
    app: FastAPI,
    database: Database,
    payment_settings: Settings,
    sandbox: PaymentSandbox,
    listener: RecordingListener,
    channel: ChannelName,
) -> None:
    merchant = await make_merchant_with_key(database)
    async with database.transaction() as session:
        started = await start(
            session, payment_settings, real_now(), channel=channel, merchant_id=merchant.merchant_id
        )
    payment_id = started.payment.id
    outcome = await sandbox.pay(channel, payment_id, faults=["duplicate", "out_of_order"])
    codes = [d["status_code"] for d in outcome["deliveries"]]
    assert len(codes) == 3
    assert len(set(codes)) == 1
    assert codes[0] in (200, 204)
    if channel is ChannelName.ALIPAY:
        assert {d["body"] for d in outcome["deliveries"]} == {"success"}
    assert len(listener.calls) == 1
    async with api_client(app, merchant.api_key) as client:
        response = await client.get(f"/v1/payments/{payment_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["amount"], body["channel"]) == (
        "succeeded",
        {"amount": 50_000, "currency": "CNY"},
        channel.value,
    )
    assert body["route_reason"] == f"{channel.value} as requested by the caller"


@pytest.mark.parametrize("fault", ["forged_signature", "wrong_amount"])
async def test_a_bad_notification_gets_the_channels_failure_answer(
    app: FastAPI,
    database: Database,
    payment_settings: Settings,
    sandbox: PaymentSandbox,
    listener: RecordingListener,
    fault: str,
) -> None:
    async with database.transaction() as session:
        started = await start(session, payment_settings, real_now(), channel=ChannelName.WECHAT)
    outcome = await sandbox.pay(ChannelName.WECHAT, started.payment.id, faults=[fault])
    (delivery,) = outcome["deliveries"]
    assert delivery["status_code"] >= 400
    assert listener.calls == []
    platform = await make_platform_key(database)
    async with api_client(app, platform) as client:
        response = await client.get(f"/v1/payments/{started.payment.id}")
    assert response.json()["status"] == "awaiting"


async def test_unknown_channel_notify_is_404(app: FastAPI) -> None:
    async with api_client(app) as client:
        response = await client.post("/v1/channels/paypal/notify", content=b"{}")
    assert response.status_code == 404


async def test_another_merchants_payment_is_not_found(app: FastAPI, database: Database) -> None:
    owner = await make_merchant_with_key(database, legal_name="商户甲")
    intruder = await make_merchant_with_key(database, legal_name="商户乙")
    payment_id = await cash_payment(database, owner.merchant_id)
    async with api_client(app, intruder.api_key) as client:
        response = await client.get(f"/v1/payments/{payment_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "payment_not_found"


async def test_platform_configures_a_channel_and_routing_follows(
    app: FastAPI,
    database: Database,
    payment_settings: Settings,
    sandbox: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    admin = await make_platform_key(database)
    async with api_client(app, admin) as client:
        listed = (await client.get("/v1/channels")).json()
        assert {c["name"] for c in listed} == {
            "wechat",
            "alipay",
            "unionpay",
            "bank_transfer",
            "cash",
        }
        unionpay = next(c for c in listed if c["name"] == "unionpay")
        assert (unionpay["fee_rate"], unionpay["is_default"], unionpay["health"]["state"]) == (
            "0.005",
            True,
            "closed",
        )
        # UnionPay is cheapest by default; disable it and make Alipay cheaper than WeChat
        off = {"name": "unionpay", "enabled": False, "fee_rate": "0.005"}
        assert (await client.put("/v1/channels", json=off)).status_code == 200
        cheap = {"name": "alipay", "enabled": True, "fee_rate": "0.0055", "preference": 1}
        stored = await client.put("/v1/channels", json=cheap)
        assert stored.status_code == 200, stored.text
        assert (stored.json()["fee_rate"], stored.json()["is_default"]) == ("0.0055", False)
        bad = {"name": "alipay", "enabled": True, "fee_rate": "0.5"}
        refused = await client.put("/v1/channels", json=bad)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "invalid_fee_rate"
    async with database.transaction() as session:
        started = await start(session, payment_settings, real_now())
    assert started.payment.channel == "alipay"
    assert started.payment.route_reason.startswith("routed to alipay: lowest fee ¥2.75")
    assert "unionpay: disabled" in started.payment.route_reason


async def test_reserve_figures_and_fee_income_transfer(app: FastAPI, database: Database) -> None:
    # given fee income of 3.00 earned inside customer money (a redemption's fee)
    now = real_now()
    async with database.transaction() as session:
        reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
        fees = await system_account(session, AccountCode.FEE_INCOME, "CNY", now=now)
        await post_transfers(
            session,
            [TransferRequest("fee-1", reserve, fees, 300, "CNY", "redemption_fee")],
            now=now,
        )
    finance = await make_platform_key(database, role="finance")
    async with api_client(app, finance) as client:
        figures = (await client.get("/v1/reserve")).json()
        assert (figures["reserve_bank"]["amount"], figures["fee_income_movable"]["amount"]) == (
            300,
            300,
        )
        assert figures["is_covered"] is True
        # when finance moves 2.00, replays it, then asks for 1.01 more
        body = {"transfer_id": "fees-dec", "amount": {"amount": 200, "currency": "CNY"}}
        first = await client.post("/v1/reserve/transfers", json=body)
        again = await client.post("/v1/reserve/transfers", json=body)
        too_much = await client.post(
            "/v1/reserve/transfers",
            json={"transfer_id": "fees-dec-2", "amount": {"amount": 101, "currency": "CNY"}},
        )
        after = (await client.get("/v1/reserve")).json()
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"] == "fees-dec"
    assert too_much.status_code == 422
    assert too_much.json()["error"]["code"] == "reserve_transfer_exceeds_fee_income"
    assert (after["reserve_bank"]["amount"], after["operating_bank"]["amount"]) == (100, 200)
    assert (after["fee_income_moved"]["amount"], after["fee_income_movable"]["amount"]) == (
        200,
        100,
    )


async def test_channel_fees_above_fee_income_are_made_good_by_the_platform(
    app: FastAPI, database: Database
) -> None:
    # given a card paid 100.00 that settled into the reserve less the channel's fee of 0.60,
    # and fee income of only 0.20
    now = real_now()
    async with database.transaction() as session:
        reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
        expense = await system_account(session, AccountCode.CHANNEL_FEE_EXPENSE, "CNY", now=now)
        income = await system_account(session, AccountCode.FEE_INCOME, "CNY", now=now)
        owed = await merchant_payable_account(session, "mch_test", "CNY", now=now)
        await post_transfers(
            session,
            [
                TransferRequest("load", reserve, owed, 10_000, "CNY", "test_load"),
                TransferRequest("stmt-fee", expense, reserve, 60, "CNY", "channel_fee"),
                TransferRequest("fee", owed, income, 20, "CNY", "redemption_fee"),
            ],
            now=now,
        )
    finance = await make_platform_key(database, role="finance")
    async with api_client(app, finance) as client:
        short = (await client.get("/v1/reserve")).json()
        # then nothing may leave, and the platform owes the reserve 0.40
        out = await client.post(
            "/v1/reserve/transfers",
            json={"transfer_id": "out-1", "amount": {"amount": 1, "currency": "CNY"}},
        )
        body = {
            "transfer_id": "cover-fees",
            "direction": "to_reserve",
            "amount": {"amount": 40, "currency": "CNY"},
        }
        funded = await client.post("/v1/reserve/transfers", json=body)
        again = await client.post("/v1/reserve/transfers", json=body)
        other_way = await client.post(
            "/v1/reserve/transfers", json={**body, "direction": "to_operating"}
        )
        after = (await client.get("/v1/reserve")).json()
    assert short["is_covered"] is False
    assert (short["channel_fees"]["amount"], short["shortfall"]["amount"]) == (60, 40)
    assert short["fee_income_movable"]["amount"] == 0
    assert out.json()["error"]["code"] == "reserve_transfer_exceeds_fee_income"
    assert funded.status_code == 201, funded.text
    assert (again.status_code, other_way.status_code) == (201, 409)
    assert funded.json()["direction"] == again.json()["direction"] == "to_reserve"
    assert after["is_covered"] is True
    assert (after["shortfall"]["amount"], after["surplus"]["amount"]) == (0, 0)
    assert (after["reserve_bank"]["amount"], after["operating_bank"]["amount"]) == (9_980, 0)
    async with database.transaction() as session:
        report = VerifyReport()
        await check_cover(session, report)
    assert report.ok


async def test_reserve_is_for_finance_only(app: FastAPI, database: Database) -> None:
    merchant = await make_merchant_with_key(database)
    support = await make_platform_key(database, role="support")
    for key in (merchant.api_key, support):
        async with api_client(app, key) as client:
            assert (await client.get("/v1/reserve")).status_code == 403
            assert (await client.put("/v1/channels", json={})).status_code == 403
