"""The ASGI application: API routers, console pages, error handling, lifecycle."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tongka import __version__, currencies
from tongka.api import cards, events, health, metrics, webhook_endpoints
from tongka.api import identity as identity_api
from tongka.api.body_size import BodySizeLimitMiddleware
from tongka.api.card_returns import router as card_returns_router
from tongka.api.deposits import router as deposits_router
from tongka.api.errors import install_error_handlers
from tongka.api.net_positions import router as net_positions_router
from tongka.api.orders import router as orders_router
from tongka.api.payments import router as payments_router
from tongka.api.payout_holds import router as payout_holds_router
from tongka.api.promotions import router as promotions_router
from tongka.api.rate_limits import RateLimiter, RateLimitMiddleware
from tongka.api.receipts import router as receipts_router
from tongka.api.reconciliation import router as reconciliation_router
from tongka.api.reconciliation_statements import router as statements_router
from tongka.api.redemption_controls import router as redemption_controls_router
from tongka.api.redemption_lane import RedemptionLaneMiddleware
from tongka.api.redemptions import router as redemptions_router
from tongka.api.settlement import router as settlement_router
from tongka.api.split_rules import router as split_rules_router
from tongka.clock import Clock, SystemClock
from tongka.config import Settings, get_settings
from tongka.db import Database
from tongka.edge.no_store import NoStoreMiddleware
from tongka.edge.uploads import CONSOLE_STATEMENTS_PATH, STATEMENTS_PATH
from tongka.logging import configure_logging
from tongka.metrics import HttpMetricsMiddleware
from tongka.sales.fulfilment import register_order_listener
from tongka.web import install as install_console
from tongka.worker import run_worker


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the app. Tests pass their own database and clock; ``serve`` passes neither."""
    settings = settings or get_settings()
    currencies.configure(settings)
    configure_logging(settings.log_level)
    owns_database = database is None
    register_order_listener(settings, replace=True)  # notifications may come first

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.database is None:
            app.state.database = Database.from_settings(settings)
        stop = asyncio.Event()
        worker_task = None
        if settings.run_worker_in_process:
            worker_task = asyncio.create_task(
                run_worker(app.state.database, app.state.clock, settings, stop)
            )
        # What start-up made (modules, the ORM's metadata, routes, compiled statements) lives
        # as long as the process: out of the collector's sight, a full collection walks only
        # what requests made, and stops the process for far less (the hot paths' p99). Not
        # in tests: they start many apps in one process, and a freeze would keep whatever
        # the earlier ones left for the collector (a browser test's sign-in broke on it).
        if settings.environment != "test":
            gc.freeze()
        yield
        stop.set()
        if worker_task is not None:
            await worker_task
        if owns_database:
            await app.state.database.dispose()

    app = FastAPI(
        title="Tongka API",
        version=__version__,
        description=(
            "通卡 — prepaid stored-value cards: issue, sell, load, redeem, buy back, settle."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock or SystemClock()
    install_error_handlers(app)
    app.add_middleware(RedemptionLaneMiddleware)  # innermost: see its module
    app.add_middleware(NoStoreMiddleware)
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_body_bytes,
        larger=dict.fromkeys(
            (STATEMENTS_PATH, CONSOLE_STATEMENTS_PATH), settings.max_statement_upload_bytes
        ),
    )
    app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(settings))
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(identity_api.router)
    app.include_router(events.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(cards.router)
    app.include_router(cards.public_router)
    app.include_router(redemptions_router)
    app.include_router(redemption_controls_router)
    app.include_router(settlement_router)
    app.include_router(net_positions_router)
    app.include_router(payout_holds_router)
    app.include_router(deposits_router)
    app.include_router(payments_router)
    app.include_router(receipts_router)
    app.include_router(promotions_router)
    app.include_router(reconciliation_router)
    app.include_router(orders_router)
    app.include_router(card_returns_router)
    app.include_router(split_rules_router)
    app.include_router(statements_router)
    install_console(app)
    return app
