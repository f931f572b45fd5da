"""``/console/pickers/<kind>?q=``: the ``<option>``s a picker's search box swaps into its
select (HTMX), scoped as ``tongka.web.pickers`` says. One route per kind, so each declares
the action that lets a caller pick from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response

from tongka.policy import Action
from tongka.web import pickers
from tongka.web.console import Console, console_router
from tongka.web.pages.listing import Allowed

router = console_router()


async def _options(console: Console, kind: str) -> Response:
    query = console.request.query_params
    found = await pickers.choices(console, kind, query.get("q", ""))
    return console.render(
        "_picker_options.html",
        choices=found,
        selected=query.get("selected"),
        required=query.get("required") == "1",
    )


@router.get("/pickers/merchants")
async def merchants(console: Annotated[Console, Allowed(Action.MERCHANT_READ)]) -> Response:
    return await _options(console, "merchants")


@router.get("/pickers/acceptors")
async def acceptors(console: Annotated[Console, Allowed(Action.AGREEMENT_MANAGE)]) -> Response:
    return await _options(console, "acceptors")


@router.get("/pickers/stores")
async def stores(console: Annotated[Console, Allowed(Action.STORE_READ)]) -> Response:
    return await _options(console, "stores")


@router.get("/pickers/products")
async def products(console: Annotated[Console, Allowed(Action.PRODUCT_READ)]) -> Response:
    return await _options(console, "products")


@router.get("/pickers/holders")
async def holders(console: Annotated[Console, Allowed(Action.CARD_SEARCH)]) -> Response:
    return await _options(console, "holders")
