"""Reconciliation under concurrency: the same day run twice at once makes one run; two
people approving one adjustment at once post it once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.reconciliation_support import (
    DAY,
    TIMEZONE,
    add_payments,
    at,
    line,
    payment_row,
    seeded_run,
)
from tongka.db import Database
from tongka.ledger.models import LedgerTransfer
from tongka.reconciliation import resolutions
from tongka.reconciliation.models import Approval, ReconciliationException, ReconciliationRun
from tongka.reconciliation.service import reconcile_channel

NOW = at(DAY + timedelta(days=1), 9)


async def test_the_same_day_at_once_makes_one_run(database: Database) -> None:
    async with database.transaction() as session:
        await add_payments(session, [payment_row("pay_1", 1_000, 6, at())])

    async def work(session: AsyncSession) -> str:
        run = await reconcile_channel(
            session,
            "wechat",
            DAY,
            [line("pay_1", 1_000, 6), line("pay_long", 500, 3)],
            actor="user:usr_a",
            now=NOW,
            timezone=TIMEZONE,
        )
        return run.id

    ids = await asyncio.gather(*(database.run(work) for _ in range(4)))

    assert len(set(ids)) == 1
    async with database.transaction() as session:
        runs = await session.scalar(select(func.count()).select_from(ReconciliationRun))
        found = await session.scalar(select(func.count()).select_from(ReconciliationException))
    assert (runs, found) == (1, 1)


async def test_two_approvers_at_once_post_once(database: Database) -> None:
    _, _, proposal_id = await seeded_run(database, DAY)

    async def approve_as(actor: str) -> str:
        async def work(session: AsyncSession) -> str:
            approval = await resolutions.approve(session, proposal_id, actor=actor, now=NOW)
            return approval.approved_by

        return await database.run(work)

    approvers = await asyncio.gather(approve_as("user:usr_b"), approve_as("user:usr_c"))

    assert approvers[0] == approvers[1]  # the second answers the first's approval
    async with database.transaction() as session:
        approvals = await session.scalar(select(func.count()).select_from(Approval))
        posted = await session.scalar(
            select(func.count())
            .select_from(LedgerTransfer)
            .where(LedgerTransfer.code == resolutions.ADJUSTMENT_CODE)
        )
    assert (approvals, posted) == (1, 1)
