"""``/metrics``: HTTP by route template, ledger postings and refusals, jobs, webhooks."""

from __future__ import annotations

import asyncio
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api_support import api_client
from tests.factories import make_merchant_with_key
from tests.ledger_support import card_spec, fund, merchant_spec, open_accounts, transfer
from tongka import metrics, worker
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger import post_transfers
from tongka.ledger.errors import InsufficientFunds


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def _scrape(client: object) -> str:
    response = await client.get("/metrics")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return str(response.text)


async def test_requests_are_counted_by_route_template_and_status(
    settings: Settings, sqlite_database: Database
) -> None:
    app = create_app(settings, database=sqlite_database)
    merchant = await make_merchant_with_key(sqlite_database)
    labels = {"method": "GET", "route": "/v1/webhook_endpoints/{endpoint_id}", "status": "404"}
    async with api_client(app, authorization=f"Bearer {merchant.api_key}") as client:
        before = _sample(await _scrape(client), "tongka_http_requests_total", **labels)
        for n in range(3):
            assert (await client.get(f"/v1/webhook_endpoints/we_missing{n}")).status_code == 404
        text = await _scrape(client)
    assert _sample(text, "tongka_http_requests_total", **labels) == before + 3
    assert not re.search(r'route="/v1/webhook_endpoints/we_missing', text)  # no raw paths
    assert (
        _sample(
            text,
            "tongka_http_request_duration_seconds_count",
            method="GET",
            route="/v1/webhook_endpoints/{endpoint_id}",
        )
        >= 3
    )


async def test_ledger_postings_and_refusals_are_counted(
    database: Database, clock: FixedClock
) -> None:
    await open_accounts(database, card_spec("card-m"), merchant_spec("merchant-m"), now=clock.now())
    await fund(database, "card-m", 1_000, now=clock.now())
    posted = metrics.LEDGER_POSTINGS._value.get()
    refused = metrics.LEDGER_REFUSALS.labels(code="insufficient_funds")._value.get()
    async with database.transaction() as session:
        await post_transfers(
            session, [transfer("spend-m", "card-m", "merchant-m", 400)], now=clock.now()
        )
        with pytest.raises(InsufficientFunds):
            await post_transfers(
                session, [transfer("over-m", "card-m", "merchant-m", 10_000)], now=clock.now()
            )
    assert metrics.LEDGER_POSTINGS._value.get() == posted + 1
    assert metrics.LEDGER_REFUSALS.labels(code="insufficient_funds")._value.get() == refused + 1


async def test_job_runs_and_failures_are_counted(
    settings: Settings,
    sqlite_database: Database,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def failing(*_args: object) -> int:
        nonlocal calls
        calls += 1
        stop.set()
        raise RuntimeError("scripted")

    stop = asyncio.Event()
    job = worker.Job("test.failing", "unused:unused", 0.01)
    runs = metrics.JOB_RUNS.labels(job=job.name)._value.get()
    failures = metrics.JOB_FAILURES.labels(job=job.name)._value.get()
    monkeypatch.setattr(worker.Job, "resolve", lambda _self: failing)
    await asyncio.wait_for(worker.run_job_forever(job, sqlite_database, clock, settings, stop), 30)
    assert calls == 1
    assert metrics.JOB_RUNS.labels(job=job.name)._value.get() == runs + 1
    assert metrics.JOB_FAILURES.labels(job=job.name)._value.get() == failures + 1


def test_webhook_outcomes_are_counted() -> None:
    delivered = metrics.WEBHOOK_DELIVERIES.labels(outcome="delivered")._value.get()
    failed = metrics.WEBHOOK_DELIVERIES.labels(outcome="failed")._value.get()
    outcomes = [type("Outcome", (), {"succeeded": ok})() for ok in (True, False, False)]
    metrics.count_webhook_outcomes(outcomes)
    assert metrics.WEBHOOK_DELIVERIES.labels(outcome="delivered")._value.get() == delivered + 1
    assert metrics.WEBHOOK_DELIVERIES.labels(outcome="failed")._value.get() == failed + 2
