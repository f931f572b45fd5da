"""The platform's settlement forms: a contract version written on 合同 (fees in percent, the
account sealed and never echoed), and payouts held (延迟结算) and released with a reason —
in the console and through ``/v1/merchants/{id}/payout_hold``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from tests.factories import (
    api_client,
    make_merchant_with_key,
    make_platform_key,
    make_platform_user,
)
from tests.integration import test_console
from tests.integration.test_console import csrf_of, log_in
from tongka.db import Database
from tongka.settlement.fee_terms import FeeKind
from tongka.settlement.models import MerchantContract, PayoutHold

app = test_console.app
browser = test_console.browser
ACCOUNT = "6222020200112233445"


async def _finance(browser: httpx.AsyncClient, database: Database) -> str:
    email, password = await make_platform_user(database, role="finance")
    assert (await log_in(browser, email, password)).status_code == 303
    return await csrf_of(browser, "/console/contracts")


def _contract_form(token: str, merchant_id: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "merchant_id": merchant_id,
        "effective_date": "2026-12-10",
        "cycle_days": "3",
        "fee_redemption_own_percent": "0.3",
        "fee_redemption_other_issuer_percent": "1",
        "fee_redemption_other_issuer_minimum": "0.50",
        "minimum_payout": "100",
        "reserve_percent": "5",
        "reserve_days": "30",
        "bank_name": "中国工商银行上海分行",
        "account_name": "表单测试商户有限公司",
        "account_number": ACCOUNT,
        **overrides,
    }


async def test_finance_writes_a_contract_version_in_the_console(
    browser: httpx.AsyncClient, database: Database
) -> None:
    merchant = await make_merchant_with_key(database, legal_name="表单测试商户有限公司")
    token = await _finance(browser, database)
    page = await browser.get("/console/contracts")
    assert 'data-fee-kind="redemption_other_issuer"' in page.text
    bad = _contract_form(token, merchant.merchant_id, fee_top_up_percent="abc")
    refused = await browser.post("/console/contracts", data=bad)
    assert refused.status_code == 303
    again = await browser.get("/console/contracts")
    assert "0.9" in again.text  # the not-a-decimal words name an example
    assert ACCOUNT not in again.text  # typed values come back, the account number never
    saved = await browser.post(
        "/console/contracts", data=_contract_form(token, merchant.merchant_id)
    )
    assert saved.status_code == 303
    async with database.transaction() as session:
        rows = (await session.scalars(select(MerchantContract))).all()
    [contract] = rows
    assert (contract.version, contract.cycle_days, contract.minimum_payout) == (1, 3, 10_000)
    assert contract.fees[FeeKind.REDEMPTION_OWN.value]["rate"] == "0.003"
    assert contract.fees[FeeKind.REDEMPTION_OTHER_ISSUER.value]["minimum"] == 50
    assert FeeKind.TOP_UP.value not in contract.fees
    listed = (await browser.get("/console/contracts")).text
    assert f'data-contract-id="{contract.id}"' in listed
    assert "**** **** **** 3445" in listed
    assert ACCOUNT not in listed


async def test_payouts_are_held_and_released_with_a_reason(
    browser: httpx.AsyncClient, database: Database
) -> None:
    merchant = await make_merchant_with_key(database, legal_name="暂停出款商户")
    token = await _finance(browser, database)
    no_reason = {"csrf_token": token, "merchant_id": merchant.merchant_id, "reason": " "}
    assert (await browser.post("/console/payout_holds", data=no_reason)).status_code == 303
    held = {**no_reason, "reason": "风控复核中"}
    assert (await browser.post("/console/payout_holds", data=held)).status_code == 303
    page = (await browser.get("/console/contracts")).text
    assert f'data-held-merchant="{merchant.merchant_id}"' in page
    assert "风控复核中" in page
    release = {"csrf_token": token, "reason": "复核通过"}
    url = f"/console/payout_holds/{merchant.merchant_id}/release"
    assert (await browser.post(url, data=release)).status_code == 303
    async with database.transaction() as session:
        row = await session.get(PayoutHold, merchant.merchant_id)
    assert row is not None
    assert (row.is_held, row.reason) == (False, "复核通过")
    assert "data-held-merchant" not in (await browser.get("/console/contracts")).text


async def test_the_api_holds_and_releases_for_risk_only(app: FastAPI, database: Database) -> None:
    merchant = await make_merchant_with_key(database, legal_name="接口暂停商户")
    risk = await make_platform_key(database, role="risk")
    path = f"/v1/merchants/{merchant.merchant_id}/payout_hold"
    async with api_client(app, risk) as client:
        held = await client.put(path, json={"is_held": True, "reason": "可疑交易"})
        unknown = await client.put(
            "/v1/merchants/mch_00000000000000000000000000/payout_hold",
            json={"is_held": True, "reason": "x"},
        )
        empty = await client.put(path, json={"is_held": True, "reason": ""})
        listed = (await client.get("/v1/payout_holds")).json()["data"]
    async with api_client(app, merchant.api_key) as own:
        refused = await own.put(path, json={"is_held": False, "reason": "自己解除"})
        mine = (await own.get("/v1/payout_holds")).json()["data"]
    assert held.status_code == 200, held.text
    assert held.json()["is_held"] is True
    assert (unknown.status_code, empty.status_code, refused.status_code) == (404, 422, 403)
    assert [row["merchant_id"] for row in listed] == [merchant.merchant_id]
    assert [row["reason"] for row in mine] == ["可疑交易"]
