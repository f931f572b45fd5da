"""The settlement demo step (``tongka demo``): a settled week — contracts, batches for each
business day of the week before today, payouts (one rejected and carried), a reconciliation
run with an open exception, the canteen's cards at the bookshop split 70/25/5 (split lines);
a second run changes nothing, the ledger verifies, and the
console shows the batches and the run."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select

from tests.integration.test_identity_demo import _row_counts
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.demo import load_demo_data
from tongka.edge.auth import SESSION_COOKIE
from tongka.identity import service as identity
from tongka.identity.crypto import IdentityKeys
from tongka.ledger.verify import verify_ledger
from tongka.reconciliation.models import ReconciliationException, ReconciliationRun
from tongka.settlement.calendar import load_calendar
from tongka.settlement.demo import REJECTED_REASON, demo_week
from tongka.settlement.models import (
    MerchantContract,
    Payout,
    SettlementBatch,
    SettlementLine,
    SplitRuleRow,
)

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # a Thursday, noon in Shanghai


async def _login(database: Database, settings: Settings, account: dict[str, str]) -> str:
    async with database.transaction() as session:
        result = await identity.login(
            session,
            IdentityKeys.from_settings(settings),
            email=account["email"],
            password=account["password"],
            now=NOW,
        )
    assert result.session_token is not None
    return result.session_token


async def test_the_demo_week_is_settled_once_and_shown(
    settings: Settings, database: Database
) -> None:
    path = await load_demo_data(database, settings, NOW)
    counts = await _row_counts(database)
    await load_demo_data(database, settings, NOW.replace(day=10))  # a week later: nothing new
    assert await _row_counts(database) == counts
    demo = json.loads(path.read_text())
    merchant_ids = [merchant["id"] for merchant in demo["merchants"]]

    async with database.transaction() as session:
        week = demo_week(await load_calendar(session), NOW.date())
        batches = (await session.scalars(select(SettlementBatch))).all()
        payouts = (await session.scalars(select(Payout))).all()
        contracts = await session.scalar(select(func.count()).select_from(MerchantContract))
        run = await session.scalar(select(ReconciliationRun))
        rule = await session.scalar(select(SplitRuleRow))
        splits = (
            await session.execute(
                select(SettlementBatch.merchant_id, SettlementLine.code, SettlementLine.amount)
                .join(SettlementBatch, SettlementBatch.id == SettlementLine.batch_id)
                .where(SettlementLine.kind == "split")
            )
        ).all()
        exceptions = (await session.scalars(select(ReconciliationException))).all()
        report = await verify_ledger(session, NOW)
    assert report.ok, report.failures
    assert contracts == 2
    assert {(b.merchant_id, b.business_date) for b in batches} == {
        (m, day) for m in merchant_ids for day in week
    }
    assert [p.failure_reason for p in payouts if p.status == "rejected"] == [REJECTED_REASON]
    assert {p.status for p in payouts} == {"paid", "rejected"}
    assert run is not None
    assert (run.channel, run.statement_date) == ("wechat", week[-1])
    assert [e.kind for e in exceptions] == ["long"]
    assert rule is not None
    assert (rule.issuer_merchant_id, rule.acceptor_merchant_id) == tuple(merchant_ids)
    books_splits = [
        (code, amount) for merchant, code, amount in splits if merchant != rule.issuer_merchant_id
    ]
    # two cross-issuer days: the issuer's part and the platform's part, each a line
    assert (
        sorted(code for code, _ in books_splits)
        == ["settlement_split"] * 2 + ["settlement_split_platform"] * 2
    )
    assert all(amount < 0 for _, amount in books_splits)
    assert any(merchant == rule.issuer_merchant_id for merchant, _, _ in splits)

    app = create_app(settings, database=database, clock=FixedClock(NOW))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        client.cookies = httpx.Cookies(
            {SESSION_COOKIE: await _login(database, settings, demo["merchants"][0]["admin"])}
        )
        page = await client.get("/console/settlement_batches")
        assert page.status_code == 200
        own = [b.id for b in batches if b.merchant_id == merchant_ids[0]]
        assert all(f'data-batch-id="{batch_id}"' in page.text for batch_id in own)
        client.cookies = httpx.Cookies(
            {SESSION_COOKIE: await _login(database, settings, demo["platform_admin"])}
        )
        runs = await client.get("/console/reconciliations")
        assert runs.status_code == 200
        assert run.id in runs.text
        rules = await client.get("/console/split_rules")
        assert f'data-split-rule-id="{rule.id}"' in rules.text
