"""Prometheus metrics: every metric object of Tongka, and the helpers that feed them.

What is counted, and where:

- HTTP: ``tongka_http_requests_total{method, route, status}`` and
  ``tongka_http_request_duration_seconds{method, route}`` — ``HttpMetricsMiddleware``
  (``api/app.py``). ``route`` is the route *template* (``/v1/cards/{card_id}``), never the
  raw path, so ids do not explode the label set; unmatched paths are ``unmatched``.
- Ledger: ``tongka_ledger_postings_total`` (transfers posted or replayed) and
  ``tongka_ledger_refusals_total{code}`` — the ``@count_postings`` decorator on
  ``ledger.posting.post_transfers`` and ``ledger.batch.post_batch``. A posting is counted
  when the ledger accepts it; the caller's transaction may still roll back.
- Jobs: ``tongka_job_runs_total{job}`` and ``tongka_job_failures_total{job}`` — one line
  each in ``worker.run_job_forever``.
- Webhooks: ``tongka_webhook_deliveries_total{outcome}`` (``delivered`` / ``failed``) — one
  line in ``webhooks.delivery.deliver_batch``.
- Reserve: ``tongka_reserve_surplus_minor{currency}`` — customer money less what it must
  cover, set by the worker's cover check (``payments.cover_watch``); below zero is a shortfall.

``GET /metrics`` (``api/metrics.py``) serves them in the text format; keep it reachable only
from the monitoring network (the proxy), as it is not authenticated.

Several uvicorn workers: each process has its own registry, so a scrape would see only the
worker that answered it. Set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory
(cleared at each start) in every process's environment: ``prometheus_client`` then keeps
values in files there and ``render`` aggregates all processes (``MultiProcessCollector``).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

P = ParamSpec("P")
R = TypeVar("R")

HTTP_REQUESTS = Counter(
    "tongka_http_requests",
    "HTTP requests by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "tongka_http_request_duration_seconds",
    "Time to the end of the response, by route template.",
    ["method", "route"],
)
LEDGER_POSTINGS = Counter("tongka_ledger_postings", "Ledger transfers posted (or replayed).")
LEDGER_REFUSALS = Counter("tongka_ledger_refusals", "Ledger transfers refused, by code.", ["code"])
JOB_RUNS = Counter("tongka_job_runs", "Worker job runs, by job.", ["job"])
JOB_FAILURES = Counter("tongka_job_failures", "Worker job runs that raised, by job.", ["job"])
WEBHOOK_DELIVERIES = Counter(
    "tongka_webhook_deliveries", "Webhook delivery attempts, by outcome.", ["outcome"]
)
RESERVE_SURPLUS = Gauge(
    "tongka_reserve_surplus_minor",
    "Customer money less what it must cover, per currency, at the last cover check.",
    ["currency"],
    multiprocess_mode="mostrecent",
)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type; aggregates processes in multiprocess mode."""
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _refusal_code(error: BaseException) -> str:
    return str(getattr(error, "code", None) or type(error).__name__)


def _count_results(results: Sequence[Any]) -> None:
    for result in results:
        error = getattr(result, "error", None)
        if error is not None:
            LEDGER_REFUSALS.labels(code=_refusal_code(error)).inc()
        else:
            LEDGER_POSTINGS.inc()


def count_postings(
    function: Callable[P, Awaitable[list[R]]],
) -> Callable[P, Awaitable[list[R]]]:
    """Count what a ledger entry point posted (per transfer) and refused (per code).

    Works for ``post_transfers`` (all or nothing: an exception refuses the group) and for
    ``post_batch`` (a ``BatchResult`` per request, each with its own error or none).
    """

    @functools.wraps(function)
    async def counted(*args: P.args, **kwargs: P.kwargs) -> list[R]:
        try:
            results = await function(*args, **kwargs)
        except Exception as error:
            LEDGER_REFUSALS.labels(code=_refusal_code(error)).inc()
            raise
        _count_results(results)
        return results

    return counted


def count_webhook_outcomes(outcomes: Sequence[Any]) -> None:
    for outcome in outcomes:
        WEBHOOK_DELIVERIES.labels(outcome="delivered" if outcome.succeeded else "failed").inc()


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


class HttpMetricsMiddleware:
    """Counts every HTTP request by method, route template and status, with its latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route, method = _route_template(scope), str(scope.get("method", ""))
            HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            HTTP_LATENCY.labels(method=method, route=route).observe(time.perf_counter() - started)
