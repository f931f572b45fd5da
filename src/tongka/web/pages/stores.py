"""Stores and terminals (门店 / 终端)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fastapi import Response
from starlette.datastructures import FormData

from tongka.api.auth import list_scope, merchant_scope
from tongka.errors import InvalidRequest
from tongka.identity import service as identity
from tongka.identity.models import Store, Terminal
from tongka.web.console import (
    Console,
    FormDep,
    SignedInDep,
    console_router,
    form_text,
    optional_text,
)
from tongka.web.pages.listing import page_of, require_role

router = console_router()
MANAGERS = ("merchant_admin", "admin")


def _decimal(form: FormData, name: str) -> Decimal | None:
    text = form_text(form, name)
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise InvalidRequest(f"{name} must be a decimal number.", param=name) from exc


async def _stores(console: Console) -> list[Store]:
    rows, _ = await page_of(console, identity.stores_query(list_scope(console.signed_in)), Store)
    return rows


async def _stores_page(console: Console, status_code: int = 200, **context: object) -> Response:
    stores, next_after = await page_of(
        console, identity.stores_query(list_scope(console.signed_in)), Store
    )
    return console.render(
        "stores.html", status_code=status_code, stores=stores, next_after=next_after, **context
    )


@router.get("/stores")
async def stores_page(console: SignedInDep) -> Response:
    return await _stores_page(console)


@router.post("/stores")
async def create_store(console: SignedInDep, form: FormDep) -> Response:
    principal = console.signed_in
    require_role(principal, *MANAGERS)

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

    if not all(form_text(form, name) for name in ("name", "address", "city")):
        return await _stores_page(console, 400, error=console.t("stores.required"))
    _, error = await console.attempt(work)
    if error:
        return await _stores_page(console, 400, error=error)
    return console.redirect("/console/stores")


async def _terminals_page(console: Console, status_code: int = 200, **context: object) -> Response:
    terminals, next_after = await page_of(
        console, identity.terminals_query(list_scope(console.signed_in)), Terminal
    )
    return console.render(
        "terminals.html",
        status_code=status_code,
        terminals=terminals,
        stores=await _stores(console),
        next_after=next_after,
        **context,
    )


@router.get("/terminals")
async def terminals_page(console: SignedInDep) -> Response:
    return await _terminals_page(console)


@router.post("/terminals")
async def create_terminal(console: SignedInDep, form: FormDep) -> Response:
    principal = console.signed_in
    require_role(principal, *MANAGERS)

    async def work() -> Terminal:
        store = await identity.get_store(
            console.session, form_text(form, "store_id"), merchant_id=list_scope(principal)
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

    _, error = await console.attempt(work)
    if error:
        return await _terminals_page(console, 400, error=error)
    return console.redirect("/console/terminals")
