"""Settlement runs over several days at several merchants: batches, carried amounts, the
rolling reserve, payouts (accepted, rejected, returned, timed out), runs twice and at once."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest

from tests.cards_support import assert_ledger_verifies
from tests.settlement_world import World
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments.sandbox.payouts import PayoutOutcome, Plan
from tongka.settlement.errors import NotABusinessDay

MON, TUE, WED = date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)
AFTER_HOLIDAY = date(2026, 10, 8)  # National Day: 1-7 October off


@pytest.fixture
def world(database: Database, clock: FixedClock, settings: Settings) -> World:
    return World(database, clock, settings)


async def test_batches_over_several_days_at_several_merchants(world: World) -> None:
    # given: two merchants with T+1 contracts, redemptions and a refund over three days
    await world.merchant("mch_a", MON)
    await world.merchant("mch_b", MON)
    first = await world.redeem("mch_a", MON, 10_000)  # fee 60
    await world.redeem("mch_b", MON, 5_000)  # fee 30
    await world.redeem("mch_a", TUE, 2_000)  # fee 12
    await world.refund(first, TUE, 1_000)  # 994 back from the payable, 6 from fees
    # when: the run of Monday, early on Tuesday
    run = await world.run(MON)
    # then: one batch each, paid on Tuesday (T+1)
    assert len(run.built) == 2
    [batch_a] = await world.batches("mch_a")
    [batch_b] = await world.batches("mch_b")
    assert (batch_a.net, batch_a.payout_status) == (9_940, "paid")
    assert (batch_b.net, batch_b.payout_status) == (4_970, "paid")
    lines = await world.lines(batch_a.id)
    assert [(line.kind, line.amount, line.fee) for line in lines] == [("redemption", 9_940, 60)]
    assert lines[0].transfer_id == f"{first}:paid"
    # Tuesday's movements are on the payable, not yet settled
    assert await world.payable("mch_a") == 1_988 - 994
    # when: Tuesday's and Wednesday's runs (Wednesday's batch is paid after National Day)
    await world.run(TUE)
    await world.redeem("mch_a", WED, 3_000)
    await world.run(WED)
    batches = await world.batches("mch_a")
    assert [(b.business_date, b.net, b.payout_status) for b in batches] == [
        (MON, 9_940, "paid"),
        (TUE, 994, "paid"),
        (WED, 2_982, "due"),
    ]
    assert batches[2].payout_date == AFTER_HOLIDAY
    await world.run(AFTER_HOLIDAY, on=AFTER_HOLIDAY, hour=10)
    assert (await world.batches("mch_a"))[2].payout_status == "paid"
    # then: everything owed was paid out, once each
    assert await world.payable("mch_a") == 0
    assert await world.payable("mch_b") == 0
    assert [p.amount for p in await world.payouts("mch_a")] == [9_940, 994, 2_982]
    assert len(world.simulator.payouts) == 4
    await assert_ledger_verifies(world.database, world.clock.now())


async def test_a_date_run_twice_changes_nothing(world: World) -> None:
    await world.merchant("mch_a", MON)
    await world.redeem("mch_a", MON, 10_000)
    first = await world.run(MON)
    again = await world.run(MON)
    assert first.built
    assert not again.built
    assert again.existing == first.built
    assert len(await world.payouts("mch_a")) == 1
    assert len(world.simulator.payouts) == 1


async def test_a_late_transfer_lands_in_the_next_open_batch(world: World) -> None:
    # given: Monday's batch is built
    await world.merchant("mch_a", MON)
    await world.redeem("mch_a", MON, 10_000)
    await world.run(MON)
    # when: a transfer dated Monday evening commits only now (a slow till)
    late = await world.redeem("mch_a", MON, 500, hour=23)
    await world.run(MON)
    # then: Monday's closed batch is unchanged; Tuesday's batch has it
    [monday] = await world.batches("mch_a")
    assert (monday.net, monday.line_count) == (9_940, 1)
    await world.run(TUE)
    tuesday = (await world.batches("mch_a"))[1]
    assert [line.transfer_id for line in await world.lines(tuesday.id)] == [f"{late}:paid"]


async def test_a_negative_net_carries_forward(world: World) -> None:
    await world.merchant("mch_a", MON)
    first = await world.redeem("mch_a", MON, 10_000)
    await world.run(MON)
    await world.refund(first, TUE, 6_000)  # 5,964 from the payable
    await world.run(TUE)
    await world.redeem("mch_a", WED, 8_000)  # 7,952
    await world.run(WED)
    batches = await world.batches("mch_a")
    assert [(b.net, b.payout_status, b.carry_reason) for b in batches] == [
        (9_940, "paid", None),
        (-5_964, "carried", "negative"),
        (1_988, "due", None),
    ]
    assert batches[1].carried_into_batch_id == batches[2].id
    lines = await world.lines(batches[2].id)
    assert sorted((line.kind, line.amount) for line in lines) == [
        ("carried", -5_964),
        ("redemption", 7_952),
    ]


async def test_below_the_minimum_payout_carries_until_it_is_reached(world: World) -> None:
    await world.merchant("mch_a", MON, minimum_payout=5_000)
    await world.redeem("mch_a", MON, 3_000)
    await world.run(MON)
    await world.redeem("mch_a", TUE, 3_000)
    await world.run(TUE)
    batches = await world.batches("mch_a")
    assert [(b.net, b.payout_status) for b in batches] == [(2_982, "carried"), (5_964, "paid")]


async def test_the_rolling_reserve_is_held_and_released(world: World) -> None:
    await world.merchant("mch_a", MON, reserve_percent=Decimal("0.1"), reserve_days=2)
    await world.redeem("mch_a", MON, 10_000)
    await world.run(MON)
    await world.redeem("mch_a", TUE, 1_000)
    await world.run(TUE)
    await world.run(WED)  # Monday + 2 business days: released
    monday, tuesday, wednesday = await world.batches("mch_a")
    assert (monday.reserve_held, monday.net) == (994, 9_940 - 994)
    assert (tuesday.reserve_held, tuesday.net) == (99, 994 - 99)
    assert (wednesday.reserve_released, wednesday.net) == (994, 994)
    assert [line.kind for line in await world.lines(wednesday.id)] == ["reserve_release"]
    assert wednesday.payout_status == "due"  # paid after National Day
    assert await world.payable("mch_a") == 994  # Tuesday's 99 is still in the reserve


async def test_a_rejected_payout_is_carried_and_paid_with_the_next_batch(world: World) -> None:
    await world.merchant("mch_a", MON)
    world.simulator.plan(Plan(PayoutOutcome.REJECT, reason="户名不符"))
    await world.redeem("mch_a", MON, 10_000)
    await world.run(MON)
    [monday] = await world.batches("mch_a")
    [payout] = await world.payouts("mch_a")
    assert (monday.payout_status, payout.status, payout.failure_reason) == (
        "failed",
        "rejected",
        "户名不符",
    )
    assert payout.transfer_id is None
    assert await world.payable("mch_a") == 9_940  # nothing moved
    await world.redeem("mch_a", TUE, 1_000)
    await world.run(TUE)
    tuesday = (await world.batches("mch_a"))[1]
    assert (tuesday.carried_in, tuesday.net, tuesday.payout_status) == (9_940, 10_934, "paid")
    assert await world.payable("mch_a") == 0


async def test_a_returned_payout_goes_back_on_the_payable_and_out_again(world: World) -> None:
    await world.merchant("mch_a", MON)
    world.simulator.plan(Plan(PayoutOutcome.RETURN, return_after_days=1))
    await world.redeem("mch_a", MON, 10_000)
    await world.run(MON)  # paid on Tuesday 02:00
    assert await world.payable("mch_a") == 0
    await world.run(TUE)  # Wednesday 02:00: the bank returned it (退票)
    first = (await world.payouts("mch_a"))[0]
    assert (first.status, first.return_transfer_id) == (
        "returned",
        f"settlement_payout_return:{first.id}",
    )
    assert await world.payable("mch_a") == 9_940
    await world.run(WED)
    wednesday = (await world.batches("mch_a"))[-1]
    assert [line.kind for line in await world.lines(wednesday.id)] == ["payout_returned"]
    await world.run(AFTER_HOLIDAY, on=AFTER_HOLIDAY, hour=10)
    assert [p.status for p in await world.payouts("mch_a")] == ["returned", "paid"]
    assert await world.payable("mch_a") == 0
    await assert_ledger_verifies(world.database, world.clock.now())


async def test_a_timed_out_payout_is_asked_about_and_never_sent_twice(world: World) -> None:
    await world.merchant("mch_a", MON)
    world.simulator.plan(Plan(PayoutOutcome.TIMEOUT))
    await world.redeem("mch_a", MON, 10_000)
    await world.run(MON)
    [payout] = await world.payouts("mch_a")
    assert payout.status == "unknown"
    assert await world.payable("mch_a") == 9_940
    await world.run(TUE)
    [payout] = await world.payouts("mch_a")
    assert payout.status == "paid"
    assert len(world.simulator.payouts) == 1
    assert await world.payable("mch_a") == 0


async def test_held_payouts_carry_until_released(world: World) -> None:
    from tongka.settlement import contracts

    await world.merchant("mch_a", MON)
    async with world.database.transaction() as session:
        await contracts.set_payout_hold(
            session,
            "mch_a",
            is_held=True,
            reason="风控复核",
            actor="user:risk",
            now=world.clock.now(),
        )
    await world.redeem("mch_a", MON, 10_000)
    await world.run(MON)
    [monday] = await world.batches("mch_a")
    assert (monday.payout_status, monday.carry_reason) == ("carried", "held")
    assert world.simulator.payouts == {}


async def test_concurrent_runs_of_a_date_build_one_batch(world: World) -> None:
    await world.merchant("mch_a", MON)
    await world.merchant("mch_b", MON)
    await world.redeem("mch_a", MON, 10_000)
    await world.redeem("mch_b", MON, 4_000)
    runs = await asyncio.gather(*(world.run(MON) for _ in range(4)))
    assert sum(len(run.built) for run in runs) == 2
    for merchant in ("mch_a", "mch_b"):
        [batch] = await world.batches(merchant)
        assert batch.line_count == len(await world.lines(batch.id)) == 1
        assert len(await world.payouts(merchant)) == 1
    assert len(world.simulator.payouts) == 2


async def test_a_run_on_a_day_off_is_refused(world: World) -> None:
    with pytest.raises(NotABusinessDay):
        await world.run(date(2026, 10, 5))
