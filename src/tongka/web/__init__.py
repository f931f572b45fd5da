"""The web console (``/console``): server-rendered Jinja2 pages with HTMX. See README.md."""

from __future__ import annotations

import importlib

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from tongka.web.console import WEB_DIR, console_http_error

# Each module has a ``router`` (``console_router()``). A part adds its module here.
PAGE_MODULES: list[str] = [
    "tongka.web.pages.home",
    "tongka.web.pages.onboarding",
    "tongka.web.pages.stores",
    "tongka.web.pages.access",
    "tongka.web.pages.account",
    "tongka.web.pages.application",
    # before pages.cards: its /cards/{id}/{action} and /card_products/{id}/{decision}
    "tongka.web.pages.card_jobs",
    "tongka.web.pages.product_detail",
    "tongka.web.pages.cards",
    "tongka.web.pages.agreements",
    "tongka.web.pages.consumer",
    "tongka.web.pages.webhooks",
    "tongka.web.pages.events",
    "tongka.web.pages.pickers",
    "tongka.web.pages.dashboard",
    "tongka.web.pages.holder",
    "tongka.web.pages.balance",
    "tongka.web.pages.till",
    "tongka.web.pages.payment_code",
    "tongka.web.pages.redemption_report",
    "tongka.web.pages.payments",
    "tongka.web.pages.settlement",
    "tongka.web.pages.payouts",
    "tongka.web.pages.net_positions",
    "tongka.web.pages.contract_forms",
    "tongka.web.pages.split_rules",
    "tongka.web.pages.deposits",
    "tongka.web.pages.receipts",
    # before pages.orders: its /orders/{order_id}
    "tongka.web.pages.batch_orders",
    "tongka.web.pages.orders",
    "tongka.web.pages.promotions",
    "tongka.web.pages.reconciliation",
    "tongka.web.pages.consumer_orders",
    "tongka.web.pages.incoming",
    "tongka.web.pages.card_returns",
    "tongka.web.pages.consumer_returns",
]


def install(app: FastAPI) -> None:
    """Mount the static files (htmx is vendored, no CDN) and include every page module."""
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    for module_name in PAGE_MODULES:
        app.include_router(importlib.import_module(module_name).router)

    api_http_error = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        # console addresses answer 404/405 in HTML; everything else as the API does
        if api_http_error is None:
            raise exc
        return await console_http_error(request, exc, api_http_error)

    app.add_exception_handler(StarletteHTTPException, http_error)
