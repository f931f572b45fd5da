"""The platform's 对账 pages through HTTP: runs, a run's report and exceptions, resolving
by hand, proposing an adjustment, approving it as another person (four eyes)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.factories import make_platform_user
from tests.integration import test_console
from tests.integration.test_console import csrf_of, log_in
from tests.reconciliation_support import DAY, seeded_run
from tongka.db import Database
from tongka.reconciliation.models import Approval, Resolution

app = test_console.app
browser = test_console.browser


async def _as(browser: httpx.AsyncClient, database: Database, role: str) -> str:
    email, password = await make_platform_user(database, role=role)
    browser.cookies.clear()
    assert (await log_in(browser, email, password)).status_code == 303
    return email


async def test_runs_report_resolve_and_approve(
    browser: httpx.AsyncClient, database: Database
) -> None:
    run_id, short_id, proposal_id = await seeded_run(database, DAY)

    # an operator (support) sees the runs and the run's exceptions, in Chinese
    await _as(browser, database, "support")
    runs = await browser.get("/console/reconciliations")
    assert runs.status_code == 200
    assert "对账" in runs.text
    assert f'data-run="{run_id}"' in runs.text
    page = await browser.get(f"/console/reconciliations/{run_id}")
    assert page.status_code == 200
    assert "渠道有、账务无（长款）" in page.text
    assert "账务有、渠道无（短款）" in page.text
    assert "勾对率" in page.text

    # the seeded long one is adjusted already; a match by hand names where it belongs
    assert 'name="matched_reference"' in page.text

    # and proposes an adjustment of the short (a reason is needed)
    token = await csrf_of(browser, f"/console/reconciliations/{run_id}")
    url = f"/console/reconciliation_exceptions/{short_id}/resolve"
    no_reason = await browser.post(url, data={"csrf_token": token, "method": "adjustment"})
    assert no_reason.status_code == 303
    proposed = await browser.post(
        url, data={"csrf_token": token, "method": "adjustment", "reason": "渠道确认未收款"}
    )
    assert (proposed.status_code, proposed.headers["location"]) == (
        303,
        f"/console/reconciliations/{run_id}",
    )
    async with database.transaction() as session:
        own = await session.scalar(select(Resolution).where(Resolution.exception_id == short_id))
    assert own is not None
    assert own.reason == "渠道确认未收款"

    # support may not approve; finance (another person) approves both proposals
    refused = await browser.post(
        f"/console/reconciliation_resolutions/{own.id}/approve", data={"csrf_token": token}
    )
    assert refused.status_code == 403
    await _as(browser, database, "finance")
    token = await csrf_of(browser, f"/console/reconciliations/{run_id}")
    for resolution_id in (own.id, proposal_id):
        approved = await browser.post(
            f"/console/reconciliation_resolutions/{resolution_id}/approve",
            data={"csrf_token": token},
        )
        assert approved.status_code == 303
    page = await browser.get(f"/console/reconciliations/{run_id}")
    assert page.text.count('data-status="resolved"') == 2
    async with database.transaction() as session:
        approvals = (await session.scalars(select(Approval))).all()
    assert len(approvals) == 2


async def test_the_proposer_cannot_approve_in_the_console(
    browser: httpx.AsyncClient, database: Database
) -> None:
    run_id, short_id, _ = await seeded_run(database, DAY)
    await _as(browser, database, "finance")
    token = await csrf_of(browser, f"/console/reconciliations/{run_id}")
    await browser.post(
        f"/console/reconciliation_exceptions/{short_id}/resolve",
        data={"csrf_token": token, "method": "adjustment", "reason": "核实后核销"},
    )
    async with database.transaction() as session:
        own = await session.scalar(select(Resolution).where(Resolution.exception_id == short_id))
    assert own is not None
    answer = await browser.post(
        f"/console/reconciliation_resolutions/{own.id}/approve", data={"csrf_token": token}
    )
    assert answer.status_code == 303
    page = await browser.get(answer.headers["location"])
    assert "双人复核" in page.text
    async with database.transaction() as session:
        assert await session.get(Approval, own.id) is None
