"""The settlement console pages: 结算单 with its lines and statement, 合同 (masked
account), 结算运行 for the platform's finance staff; a till sees none of them."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from tests.factories import TEST_KEYS, TEST_PASSWORD, unique_email
from tests.settlement_world import World
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.identity import service as identity
from tongka.payments.sandbox.payouts import PayoutOutcome, Plan

MON = date(2026, 9, 28)


@pytest.fixture
async def pages(
    sqlite_database: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str]]:
    world = World(sqlite_database, clock, settings)
    till = await world.merchant("mch_a", MON)
    await world.merchant("mch_b", MON)
    await world.redeem("mch_a", MON, 10_000)
    await world.redeem("mch_b", MON, 20_000)
    # the batches are paid in merchant order: mch_a's is paid, mch_b's rejected
    world.simulator.plan(Plan(PayoutOutcome.ACCEPT), Plan(PayoutOutcome.REJECT, reason="户名不符"))
    await world.run(MON)
    [batch] = await world.batches("mch_a")
    tokens = {}
    async with sqlite_database.transaction() as session:
        for name, role, merchant_id, store_id in (
            ("manager", "merchant_admin", "mch_a", None),
            ("cashier", "cashier", "mch_a", till.store_id),
            ("finance", "finance", None, None),
        ):
            email = unique_email(name)
            await identity.create_user(
                session,
                email=email,
                display_name=name,
                role=role,
                password=TEST_PASSWORD,
                actor="test",
                now=clock.now(),
                merchant_id=merchant_id,
                store_id=store_id,
            )
            result = await identity.login(
                session, TEST_KEYS, email=email, password=TEST_PASSWORD, now=clock.now()
            )
            assert result.session_token is not None
            tokens[name] = result.session_token
    app = create_app(settings, database=sqlite_database, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, tokens, batch.id


def _as(client: httpx.AsyncClient, token: str) -> httpx.AsyncClient:
    client.cookies = httpx.Cookies({SESSION_COOKIE: token})
    return client


async def test_a_merchant_reads_its_batches_lines_statement_and_contract(
    pages: tuple[httpx.AsyncClient, dict[str, str], str],
) -> None:
    client, tokens, batch_id = pages
    browser = _as(client, tokens["manager"])
    batches = await browser.get("/console/settlement_batches")
    assert batches.status_code == 200
    assert "结算单" in batches.text
    assert f'data-batch-id="{batch_id}"' in batches.text
    batch = await browser.get(f"/console/settlement_batches/{batch_id}")
    assert batch.status_code == 200
    assert 'data-line-kind="redemption"' in batch.text
    assert "¥99.40" in batch.text
    assert "已出款" in batch.text
    statement = await browser.get(f"/console/settlement_batches/{batch_id}/statement.csv")
    rows = list(csv.reader(io.StringIO(statement.text.lstrip("\ufeff"))))
    assert rows[-1][2:6] == ["net", batch_id, "", "99.40"]
    pdf = await browser.get(f"/console/settlement_batches/{batch_id}/statement.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert f"statement-{batch_id}.pdf" in pdf.headers["content-disposition"]
    contract = await browser.get("/console/contracts")
    assert contract.status_code == 200
    assert "**** **** **** 3445" in contract.text
    assert "6222020200112233445" not in contract.text


async def test_a_till_sees_no_settlement_and_finance_sees_the_runs(
    pages: tuple[httpx.AsyncClient, dict[str, str], str],
) -> None:
    client, tokens, batch_id = pages
    for path in (
        "/console/settlement_batches",
        "/console/contracts",
        "/console/settlement_runs",
        "/console/payouts",
    ):
        assert (await _as(client, tokens["cashier"]).get(path)).status_code == 403, path
    assert (await _as(client, tokens["manager"]).get("/console/settlement_runs")).status_code == 403
    runs = await _as(client, tokens["finance"]).get("/console/settlement_runs")
    assert runs.status_code == 200
    assert 'data-run-date="2026-09-28"' in runs.text


async def test_payouts_show_each_attempt_scoped_filtered_and_as_csv(
    pages: tuple[httpx.AsyncClient, dict[str, str], str],
) -> None:
    client, tokens, batch_id = pages
    own = await _as(client, tokens["manager"]).get("/console/payouts")
    assert own.status_code == 200
    assert "<title>出款记录" in own.text
    assert 'data-status="paid"' in own.text
    assert f'href="/console/settlement_batches/{batch_id}"' in own.text
    assert "户名不符" not in own.text  # mch_b's rejected payout is not mch_a's to see
    every = await _as(client, tokens["finance"]).get("/console/payouts")
    assert 'data-status="paid"' in every.text
    assert 'data-status="rejected"' in every.text
    rejected = await _as(client, tokens["finance"]).get("/console/payouts?status=rejected")
    assert "户名不符" in rejected.text
    assert 'data-status="paid"' not in rejected.text
    exported = await _as(client, tokens["finance"]).get(
        "/console/payouts?status=rejected&format=csv"
    )
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert len(rows) == 2
    assert "198.80" in rows[1]  # mch_b's ¥200.00 less its fee
    assert "户名不符" in rows[1]
    assert "mch_b" in rows[1]
