"""Stores and terminals (门店 / 终端)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Response
from starlette.datastructures import FormData

from tongka.edge.auth import merchant_scope
from tongka.errors import InvalidRequest
from tongka.identity import service as identity
from tongka.identity.models import Store, Terminal
from tongka.policy import Action, scope_of
from tongka.web.console import (
    Console,
    FormDep,
    console_router,
    form_text,
    optional_text,
)
from tongka.web.pages.listing import (
    Allowed,
    render_list,
    submit,
    visible_stores,
)

router = console_router()
STORE_FIELDS = ("name", "address", "city")


def _decimal(form: FormData, name: str) -> Decimal | None:
    text = form_text(form, name)
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise InvalidRequest(
            f"{name} must be a decimal number.", code="not_a_decimal", param=name
        ) from exc


async def _stores_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = identity.stores_query(scope_of(console.signed_in).merchant())
    return await render_list(
        console, "stores.html", "stores", statement, Store, status_code, **context
    )


async def _terminals_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = identity.terminals_query(scope_of(console.signed_in).merchant())
    stores = await visible_stores(console)
    return await render_list(
        console,
        "terminals.html",
        "terminals",
        statement,
        Terminal,
        status_code,
        stores=stores,
        **context,
    )


@router.get("/stores")
async def stores_page(console: Annotated[Console, Allowed(Action.STORE_READ)]) -> Response:
    return await _stores_page(console)


@router.post("/stores")
async def create_store(
    console: Annotated[Console, Allowed(Action.STORE_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in
    if not all(form_text(form, name) for name in STORE_FIELDS):
        return await _stores_page(
            console, 400, error=console.gettext("Name, address and city are required.")
        )

    async def work() -> Store:
        return await identity.create_store(
            console.session,
            merchant_id=merchant_scope(principal, optional_text(form, "merchant_id")),
            name=form_text(form, "name"),
            address=form_text(form, "address"),
            city=form_text(form, "city"),
            latitude=_decimal(form, "latitude"),
            longitude=_decimal(form, "longitude"),
            actor=principal.actor,
            now=console.now,
        )

    return await submit(console, work, success_url="/console/stores", form_page=_stores_page)


@router.get("/terminals")
async def terminals_page(console: Annotated[Console, Allowed(Action.TERMINAL_READ)]) -> Response:
    return await _terminals_page(console)


@router.post("/terminals")
async def create_terminal(
    console: Annotated[Console, Allowed(Action.TERMINAL_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in

    async def work() -> Terminal:
        store = await identity.get_store(
            console.session, form_text(form, "store_id"), merchant_id=scope_of(principal).merchant()
        )
        return await identity.create_terminal(
            console.session,
            merchant_id=store.merchant_id,
            store_id=store.id,
            device_id=form_text(form, "device_id"),
            name=optional_text(form, "name"),
            actor=principal.actor,
            now=console.now,
        )

    return await submit(console, work, success_url="/console/terminals", form_page=_terminals_page)
