"""Property: for any redemptions, refunds and payout outcomes over several days — some of
them of mch_a's card at mch_b, split three ways (issuer, acceptor, platform) — the
settlement lines equal the payable's movements, their fees equal the fees taken, the
platform's split lines equal what its fee income took of them, and what was paid plus what
is still open (due or carried) equals everything owed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import _fresh_sqlite, assert_books_balance
from tests.settlement_world import World
from tongka import ledger
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.ledger import AccountCode
from tongka.ledger.system_accounts import system_account_id
from tongka.payments.sandbox.payouts import PayoutOutcome, Plan
from tongka.redemption.fees import merchant_payable_id
from tongka.settlement.models import Payout, SettlementBatch, SettlementLine
from tongka.settlement.runs import PAYOUT_CODE
from tongka.settlement.split_postings import (
    PLATFORM_SPLIT_CODE,
    TRANSIT_CODE,
    transit_account_id,
)

DAYS = [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 8)]
QUIET_DAY = date(2026, 10, 9)  # settles the issuer's parts split on the last day
MERCHANTS = ("mch_a", "mch_b")
CROSS = "cross"  # mch_a's card at mch_b
THREE_WAY = {
    "shares": [
        {"party": "issuer", "percent": "0.7", "cap_percent": "0.3"},
        {"party": "acceptor", "percent": "0.25"},
        {"party": "platform", "percent": "0.05", "fixed": 10},
    ],
    "excess_party": "acceptor",
}
OPEN = ("due", "carried", "failed")

day_plans = st.lists(
    st.tuples(
        st.lists(
            st.tuples(st.sampled_from((*MERCHANTS, CROSS)), st.integers(1, 20_000)), max_size=3
        ),
        st.lists(st.integers(1, 100), max_size=2),  # refund percents of earlier redemptions
        st.sampled_from(list(PayoutOutcome)),
    ),
    min_size=len(DAYS),
    max_size=len(DAYS),
)


async def _play(world: World, plans: list, minimum: int) -> None:  # type: ignore[type-arg]
    for merchant in MERCHANTS:
        await world.merchant(merchant, DAYS[0], minimum_payout=minimum)
    await world.cross_till(CROSS, *MERCHANTS, rule=THREE_WAY)
    redeemed: list[tuple[str, int]] = []
    for day, (redemptions, refunds, outcome) in zip(DAYS, plans, strict=True):
        for merchant, amount in redemptions:
            redeemed.append((await world.redeem(merchant, day, amount), amount))
        for index, percent in enumerate(refunds):
            if index < len(redeemed):
                redemption_id, amount = redeemed[index]
                redeemed[index] = (redemption_id, 0)
                if amount * percent // 100 > 0:
                    await world.refund(redemption_id, day, amount * percent // 100)
        world.simulator.plan(Plan(outcome, return_after_days=1))
        await world.run(day, on=day, hour=23)
    # an issuer's batch of a day may be built before the acceptor's split its part to it:
    # that part lands in the issuer's next batch
    await world.run(QUIET_DAY, on=QUIET_DAY, hour=23)


async def _check(world: World) -> None:
    async with world.database.transaction() as session:
        opened = {
            spec.account_id for spec in await ledger.list_accounts(session, "merchant_payable")
        }
        for merchant in MERCHANTS:
            payable = merchant_payable_id(merchant, "CNY")
            if payable not in opened:  # no redemption there: nothing to settle
                assert not (
                    await session.scalars(
                        select(SettlementBatch.id).where(SettlementBatch.merchant_id == merchant)
                    )
                ).all()
                continue
            transfers = await ledger.list_transfers(session, payable, limit=1000)
            movements = [t for t in transfers if t.code != PAYOUT_CODE]
            batches = (
                await session.scalars(
                    select(SettlementBatch).where(SettlementBatch.merchant_id == merchant)
                )
            ).all()
            ids = [b.id for b in batches]
            lines = (
                await session.scalars(
                    select(SettlementLine).where(SettlementLine.batch_id.in_(ids))
                )
            ).all()
            moved = [line for line in lines if line.transfer_id is not None]
            signed = {
                t.transfer_id: t.amount if t.credit_account_id == payable else -t.amount
                for t in movements
            }
            # every movement is on exactly one line, with its amount
            assert {line.transfer_id: line.amount for line in moved} == signed
            # the fees beside the redemption legs are on their lines
            fee_ids = [f"{line.transfer_id}_fee" for line in moved if line.kind == "redemption"]
            fees = await ledger.find_transfers(session, fee_ids)
            fee_income = system_account_id(AccountCode.FEE_INCOME, "CNY")
            assert sum(line.fee for line in moved) == sum(
                t.amount for t in fees.values() if t.credit_account_id == fee_income
            )
            # each batch's net is its lines; carried amounts only move between batches
            for batch in batches:
                assert batch.net == sum(line.amount for line in lines if line.batch_id == batch.id)
            payouts = (
                await session.scalars(select(Payout).where(Payout.merchant_id == merchant))
            ).all()
            paid = sum(p.amount for p in payouts if p.status in ("paid", "returned"))
            open_nets = sum(
                b.net
                for b in batches
                if b.payout_status in OPEN and b.carried_into_batch_id is None
            ) + sum(b.net for b in batches if b.payout_status == "paying")
            # a returned payout was paid, and its return is a movement of a later batch
            assert paid + open_nets == sum(signed.values())
            balance = await ledger.get_balance(session, payable)
            assert balance.posted == open_nets
        await _check_platform_split(session)


async def _check_platform_split(session: AsyncSession) -> None:
    """The platform's split lines are exactly what its fee income took of splits; the
    issuers' parts passed through an empty transit account."""
    lines = (
        await session.scalars(
            select(SettlementLine.amount).where(SettlementLine.code == PLATFORM_SPLIT_CODE)
        )
    ).all()
    fee_income = system_account_id(AccountCode.FEE_INCOME, "CNY")
    transit = transit_account_id("CNY")
    opened = {
        spec.account_id
        for code in (AccountCode.FEE_INCOME, TRANSIT_CODE)
        for spec in await ledger.list_accounts(session, code)
    }
    taken = 0
    if fee_income in opened:
        for transfer in await ledger.list_transfers(session, fee_income, limit=1000):
            if transfer.code == PLATFORM_SPLIT_CODE:
                is_in = transfer.credit_account_id == fee_income
                taken += transfer.amount if is_in else -transfer.amount
    assert taken == -sum(lines)
    if transit in opened:
        assert (await ledger.get_balance(session, transit)).posted == 0


@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failing case prints as is
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=day_plans, minimum=st.sampled_from([0, 3_000]))
def test_lines_fees_and_carried_amounts_equal_the_movements(
    tmp_path: Path,
    settings_: Settings,
    plans: list,
    minimum: int,  # type: ignore[type-arg]
) -> None:
    async def scenario() -> None:
        database = await _fresh_sqlite(tmp_path / f"{uuid.uuid4().hex}.db")
        try:
            world = World(database, FixedClock(), settings_)
            await _play(world, plans, minimum)
            await _check(world)
            await assert_books_balance(database)
        finally:
            await database.dispose()

    asyncio.run(scenario())


@pytest.fixture
def settings_(settings: Settings) -> Settings:
    return settings
