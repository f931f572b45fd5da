# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Clearing end to end (issue #13): sales through the sandbox channels → redemptions over
several business days at two merchants (one card redeemed at the other: cross-issuer) →
a settlement run per day → payouts through the sandbox payout desk (one rejected, one
returned 退票, both paid on a later run, never twice) → statements tracing to the ledger →
the channels' statements and the reserve account's bank statement reconciled with injected
differences → the exceptions resolved (by hand; by an adjustment two people agree on) →
``ledger verify`` passes and the reserve covers everything.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.clearing_support import (
    ACCEPTOR,
    CROSS,
    ISSUER,
    business_days_after,
    channel_net,
    channel_statement,
    open_merchants,
    reserve_statement,
    top_up,
    wechat_content,
    with_fee,
)
from tests.paycore_support import paid_channels, payment_settings, real_now  # noqa: F401
from tests.payments_support import PaymentSandbox, sandbox_settings  # noqa: F401
from tests.settlement_world import World, at
from tongka.clock import FixedClock, business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger.queries import find_transfers
from tongka.ledger.verify import verify_ledger
from tongka.payments import purposes
from tongka.payments.channel import ChannelName
from tongka.payments.reserve import Direction, reserve_figures, transfer_reserve
from tongka.payments.sandbox.payouts import PayoutOutcome, Plan
from tongka.payments.statements import import_statement
from tongka.reconciliation import resolutions
from tongka.reconciliation.daily import import_bank_file, run_channel, run_reserve
from tongka.reconciliation.errors import SameApprover
from tongka.reconciliation.kinds import ExceptionStatus, ResolutionMethod
from tongka.reconciliation.models import ReconciliationException, ReconciliationRun
from tongka.sales import fulfilment
from tongka.settlement.net_positions import net_positions
from tongka.settlement.statement_pdf import statement_pdf
from tongka.settlement.statements import statement_csv

ALICE, BOB = "user:usr_alice", "user:usr_bob"
TOP_UPS = [(ISSUER, 30_000, "wechat"), (ISSUER, 20_000, "alipay"), (ACCEPTOR, 40_000, "wechat")]


@pytest.fixture
def orders_listening(payment_settings: Settings) -> Iterator[None]:
    fulfilment.register_order_listener(payment_settings, replace=True)
    yield
    purposes.unregister_listener(fulfilment.PURPOSE_KIND)


@pytest.fixture
def world(database: Database, payment_settings: Settings) -> World:
    return World(database, FixedClock(real_now()), payment_settings)


async def test_a_settled_and_reconciled_week(
    world: World,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    orders_listening: None,
) -> None:
    database, settings = world.database, payment_settings
    now = real_now()
    today = business_date(now, settings.timezone)
    days = await business_days_after(database, today, 4)  # redeem on 3, pay on the next
    world.tills = await open_merchants(database, settings, now)

    # sales today: paid top-up orders through the sandbox's WeChat Pay and Alipay
    for merchant_id, amount, channel in TOP_UPS:
        await top_up(database, settings, paid_channels, world.tills[merchant_id], amount, channel)

    # the channels' statements of the sales day, as the sandbox produces them (WeChat's
    # with a fee the channel kept that we did not expect: an injected difference); they
    # settle into the reserve the next morning, before any payout leaves it
    settled_at, run_at = at(days[0], 10), at(days[0], 11)
    statements = {
        "wechat": with_fee(await channel_statement(settings, "wechat", today), 0, 7),
        "alipay": await channel_statement(settings, "alipay", today),
    }
    assert sorted(len(lines) for lines in statements.values()) == [1, 2]
    for channel, lines in statements.items():
        await import_statement(
            database, ChannelName(channel), today, lines, now=settled_at, timezone=settings.timezone
        )

    # redemptions over three business days at both merchants, one card across issuers
    await world.redeem(ISSUER, days[0], 12_000)
    await world.redeem(ACCEPTOR, days[0], 8_000)
    await world.redeem(CROSS, days[0], 5_000)
    await world.redeem(ISSUER, days[1], 3_000)
    await world.redeem(ACCEPTOR, days[2], 2_000)

    # settlement runs, each early on the next business day; the first payouts go wrong
    world.simulator.plan(
        Plan(PayoutOutcome.REJECT, reason="户名不符"),
        Plan(PayoutOutcome.RETURN, return_after_days=1),
    )
    for index in range(3):
        await world.run(days[index], on=days[index + 1])
        again = await world.run(days[index], on=days[index + 1])
        assert again.built == []  # a date run twice changes nothing
    await _payouts_settle_everything_once(world)
    await _statements_trace_to_the_ledger(world, days[0])

    runs = {}
    for channel, lines in statements.items():
        content = wechat_content(lines) if channel == "wechat" else None
        runs[channel] = await run_channel(
            database, settings, channel, today, actor=ALICE, now=run_at, content=content
        )
    # and the reserve account's bank statement of the next day, with a charge we never booked
    bank = await reserve_statement(
        database,
        days[0],
        {channel: channel_net(lines) for channel, lines in statements.items()},
        start=at(days[0], 0),
        settled_at=settled_at,
        bank_fee=1_000,
        sales_day=today,
    )
    await import_bank_file(database, days[0], bank, actor=ALICE, now=at(days[1], 8))
    reserve_run = await run_reserve(database, settings, days[0], actor=ALICE, now=at(days[1], 8))
    assert reserve_run is not None
    async with database.transaction() as session:  # the channels settled what they said
        for run_id in runs.values():
            run = await session.get(ReconciliationRun, run_id)
            assert run is not None
            assert run.bank_status == "matched"
    found = await _exceptions(database, [*runs.values(), reserve_run])
    assert sorted(found) == ["fee_mismatch", "reserve_balance"]

    await _resolve(database, found, at(days[1], 9))
    await _the_books_hold(world, at(days[3], 12))


async def _payouts_settle_everything_once(world: World) -> None:
    """One payout rejected, one returned; what stayed paid at the desk is exactly what the
    merchants earned (redemptions less fees), each batch paid at most once."""
    payouts = [p for m in (ISSUER, ACCEPTOR) for p in await world.payouts(m)]
    statuses = [p.status for p in payouts]
    assert (statuses.count("rejected"), statuses.count("returned")) == (1, 1)
    paid = [p for p in payouts if p.status == "paid"]
    assert len({p.batch_id for p in paid}) == len(paid)
    assert len(world.simulator.payouts) == len(payouts)  # one key, one bank payout
    earned = 0
    for merchant_id in (ISSUER, ACCEPTOR):
        assert await world.payable(merchant_id) == 0
        for batch in await world.batches(merchant_id):
            lines = await world.lines(batch.id)
            earned += sum(line.amount for line in lines if line.kind == "redemption")
    now = world.clock.now()
    kept = [p for p in world.simulator.payouts.values() if p.answer(now)["status"] == "accepted"]
    assert sum(p.amount_minor for p in kept) == sum(p.amount for p in paid) == earned


async def _statements_trace_to_the_ledger(world: World, day: date) -> None:
    """Every CSV line names a posted ledger transfer of its amount; the PDF renders."""
    for merchant_id in (ISSUER, ACCEPTOR):
        batch = (await world.batches(merchant_id))[0]
        assert batch.business_date == day
        async with world.database.transaction() as session:
            text = await statement_csv(session, batch)
            pdf = await statement_pdf(session, batch, timezone=world.settings.timezone)
            rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:-1]
            assert rows
            transfers = await find_transfers(session, [row[3] for row in rows])
            for row in rows:
                assert row[3] in transfers, row
                if row[2] == "redemption":
                    assert f"{transfers[row[3]].amount / 100:.2f}" == row[5]
        assert pdf.startswith(b"%PDF")
    async with world.database.transaction() as session:
        [position] = await net_positions(session, day)
    assert (position.debtor_id, position.creditor_id) == (ISSUER, ACCEPTOR)


async def _exceptions(database: Database, run_ids: list[str]) -> dict[str, str]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(ReconciliationException).where(ReconciliationException.run_id.in_(run_ids))
        )
        return {row.kind: row.id for row in rows}


async def _resolve(database: Database, found: dict[str, str], now: datetime) -> None:
    """The fee difference matched by hand; the bank's charge by an adjustment that a second
    person approves (the proposer cannot)."""
    async with database.transaction() as session:
        await resolutions.propose(
            session,
            found["fee_mismatch"],
            ResolutionMethod.MANUAL_MATCH,
            "渠道本月手续费率上调，已确认",
            actor=ALICE,
            now=now,
        )
        proposal = await resolutions.propose(
            session,
            found["reserve_balance"],
            ResolutionMethod.ADJUSTMENT,
            "银行扣收账户管理费",
            actor=ALICE,
            now=now,
        )
    with pytest.raises(SameApprover):
        async with database.transaction() as session:
            await resolutions.approve(session, proposal.id, actor=ALICE, now=now)
    async with database.transaction() as session:
        await resolutions.approve(session, proposal.id, actor=BOB, now=now)
        for exception_id in found.values():
            assert await resolutions.status_of(session, exception_id) is ExceptionStatus.RESOLVED


async def _the_books_hold(world: World, now: datetime) -> None:
    """The platform makes good what channels and the bank kept; then ``ledger verify``."""
    async with world.database.transaction() as session:
        figures = await reserve_figures(session, "CNY")
        if figures.shortfall_minor:
            await transfer_reserve(
                session,
                transfer_id="e2e-cover",
                amount_minor=figures.shortfall_minor,
                currency="CNY",
                memo="平台补足渠道手续费",
                actor=BOB,
                now=now,
                direction=Direction.TO_RESERVE,
            )
        assert (await reserve_figures(session, "CNY")).cover.is_covered
        report = await verify_ledger(session, now)
    assert report.ok, report.failures
