"""预收资金存管: a classed issuer keeps its ratio of the quarter's opening prepaid balance
deposited; a payout that would leave less is refused naming the rule (the batch carries),
one that leaves enough is paid; the figures show in the API and the console."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.factories import api_client, make_platform_key, make_platform_user
from tests.integration import test_console
from tests.integration.test_console import csrf_of, log_in
from tests.settlement_world import World
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.settlement import deposits
from tongka.settlement.deposit_models import DepositDay

MON = date(2026, 9, 28)
app = test_console.app
browser = test_console.browser


@pytest.fixture
def world(database: Database, clock: FixedClock, settings: Settings) -> World:
    return World(database, clock, settings)


async def _classed(world: World, merchant_id: str, kind: str) -> None:
    """Class the issuer and take its quarter's requirement (the daily job's first run)."""
    now = world.clock.now()
    async with world.database.transaction() as session:
        await deposits.set_issuer_class(session, merchant_id, kind, actor="t", now=now)
        await deposits.record_days(session, now=now, timezone="Asia/Shanghai")


async def test_a_payout_that_breaks_the_ratio_is_refused_and_carries(world: World) -> None:
    # given: two issuers with a card of 1,000.00 each; A is a scale issuer (20 %: 200.00)
    await world.merchant("mch_a", MON)
    await world.merchant("mch_b", MON)
    await _classed(world, "mch_a", "scale")
    # when: 900.00 of each card is spent at its own store, then Monday is settled
    await world.redeem("mch_a", MON, 90_000)
    await world.redeem("mch_b", MON, 90_000)
    await world.run(MON)
    # then: paying A's 894.60 would leave 100.00 held < 200.00: refused, carried
    [batch_a] = await world.batches("mch_a")
    [batch_b] = await world.batches("mch_b")
    assert (batch_a.payout_status, batch_a.carry_reason) == ("carried", "deposit_ratio")
    assert batch_b.payout_status == "paid"  # an issuer without a class is not under the rule
    assert await world.payouts("mch_a") == []
    async with world.database.transaction() as session:
        refused = await session.scalar(select(Event).where(Event.type == "payout.refused"))
        figures = await deposits.deposit_figures(
            session, "mch_a", "CNY", now=world.clock.now(), timezone="Asia/Shanghai"
        )
    assert refused is not None
    assert refused.data["rule"] == "deposit_ratio"
    assert (refused.data["required"], refused.data["held"]) == (20_000, 100_000 - 90_000 + 89_460)
    assert figures is not None
    assert (figures.required, figures.prepaid_balance, figures.is_met) == (20_000, 10_000, True)


async def test_a_payout_within_the_ratio_is_paid(world: World) -> None:
    await world.merchant("mch_a", MON)
    await _classed(world, "mch_a", "brand")  # 40 %: 400.00 of 1,000.00
    await world.redeem("mch_a", MON, 50_000)
    await world.run(MON)
    [batch] = await world.batches("mch_a")
    assert batch.payout_status == "paid"  # 500.00 stays on the card: more than 400.00


def test_quarters_and_ratios() -> None:
    assert [deposits.quarter_of(date(2026, m, 1)) for m in (1, 3, 4, 9, 10, 12)] == [
        "2026Q1", "2026Q1", "2026Q2", "2026Q3", "2026Q4", "2026Q4"
    ]  # fmt: skip
    assert deposits.RATIO_BP == {"scale": 2_000, "group": 3_000, "brand": 4_000}


async def test_the_api_and_console_show_each_issuer_and_its_history(
    world: World, app: FastAPI, browser: httpx.AsyncClient
) -> None:
    await world.merchant("mch_a", MON)
    await _classed(world, "mch_a", "group")
    finance = await make_platform_key(world.database, role="finance")
    async with api_client(app, finance) as client:
        listed = (await client.get("/v1/deposit_ratios")).json()["data"]
        bad = await client.put("/v1/merchants/mch_a/issuer_class", json={"issuer_class": "giant"})
        unknown = await client.put(
            "/v1/merchants/mch_00000000000000000000000000/issuer_class",
            json={"issuer_class": "scale"},
        )
    assert [(row["merchant_id"], row["ratio_bp"], row["required"]["amount"]) for row in listed] == [
        ("mch_a", 3_000, 30_000)
    ]
    assert listed[0]["is_met"] is True
    assert (bad.status_code, unknown.status_code) == (422, 404)
    async with world.database.transaction() as session:
        days = (await session.scalars(select(DepositDay))).all()
    assert [(d.merchant_id, d.required) for d in days] == [("mch_a", 30_000)]
    email, password = await make_platform_user(world.database, role="finance")
    assert (await log_in(browser, email, password)).status_code == 303
    page = await browser.get("/console/deposit_ratios")
    assert page.status_code == 200
    assert "预收资金存管" in page.text
    assert 'data-issuer="mch_a" data-met="yes"' in page.text
    assert 'data-required="30000"' in page.text
    assert "<svg" in page.text  # the cover over time
    token = await csrf_of(browser, "/console/deposit_ratios")
    form = {"csrf_token": token, "merchant_id": "mch_a", "issuer_class": "brand"}
    assert (await browser.post("/console/issuer_classes", data=form)).status_code == 303
    async with world.database.transaction() as session:
        row = await session.get(deposits.IssuerClass, "mch_a")
    assert row is not None
    assert row.issuer_class == "brand"
