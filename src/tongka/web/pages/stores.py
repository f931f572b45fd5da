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
from tongka.web import pickers
from tongka.web.console import (
    Console,
    FormDep,
    console_router,
    form_text,
    optional_text,
)
from tongka.web.forms import attempt_and_redirect
from tongka.web.i18n import N_
from tongka.web.lists import (
    Column,
    ListSpec,
    date_range,
    id_filter,
    matching,
    picker_filter,
    text_filter,
)
from tongka.web.names import names_of
from tongka.web.pages.listing import Allowed

router = console_router()
STORE_FIELDS = ("name", "address", "city")
STORES_URL = "/console/stores"


def _decimal(form: FormData, name: str) -> Decimal | None:
    text = form_text(form, name)
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise InvalidRequest(
            N_("Type a decimal number, e.g. 31.230416."), code="not_a_decimal", param=name
        ) from exc


_CREATED = Column(
    "created_at", N_("Created"), sort=Store.created_at, csv=lambda row, x: row.created_at
)

STORES = ListSpec(
    name="stores",
    id_column=Store.id,
    columns=[
        Column("name", N_("Name"), sort=Store.name, csv=lambda row, x: row.name),
        Column("city", N_("City"), sort=Store.city, csv=lambda row, x: row.city),
        Column("address", N_("Address"), csv=lambda row, x: row.address),
        Column(
            "merchant",
            N_("Merchant"),
            csv=lambda row, x: x["names"].of("merchants", row.merchant_id),
            platform_only=True,
        ),
        _CREATED,
    ],
    filters=[
        text_filter(
            "q",
            N_("Search"),
            matching(Store.name, Store.city, Store.address),
            N_("Name, city or address"),
        ),
        id_filter("store_id", N_("Store"), Store.id),
        picker_filter(
            "merchant_id", N_("Merchant"), "merchants", Store.merchant_id, platform_only=True
        ),
        date_range("created", N_("Created"), Store.created_at),
    ],
    extras=names_of(merchants="merchant_id"),
)
TERMINALS = ListSpec(
    name="terminals",
    id_column=Terminal.id,
    columns=[
        Column(
            "device_id", N_("Device id"), sort=Terminal.device_id, csv=lambda row, x: row.device_id
        ),
        Column("name", N_("Name"), sort=Terminal.name, csv=lambda row, x: row.name),
        Column("store", N_("Store"), csv=lambda row, x: x["names"].of("stores", row.store_id)),
        Column(
            "merchant",
            N_("Merchant"),
            csv=lambda row, x: x["names"].of("merchants", row.merchant_id),
            platform_only=True,
        ),
        Column(
            "created_at", N_("Created"), sort=Terminal.created_at, csv=lambda row, x: row.created_at
        ),
    ],
    filters=[
        text_filter(
            "q", N_("Search"), matching(Terminal.device_id, Terminal.name), N_("Device id or name")
        ),
        picker_filter("store_id", N_("Store"), "stores", Terminal.store_id),
        date_range("created", N_("Created"), Terminal.created_at),
    ],
    extras=names_of(merchants="merchant_id", stores="store_id"),
)


async def _stores_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = identity.stores_query(scope_of(console.signed_in).merchant())
    merchants = (
        await pickers.preloaded(console, "merchants", None) if console.signed_in.is_platform else []
    )
    return await STORES.render(
        console, statement, "stores.html", status_code, merchant_choices=merchants, **context
    )


async def _terminals_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = identity.terminals_query(scope_of(console.signed_in).merchant())
    stores = await pickers.preloaded(console, "stores", None)
    return await TERMINALS.render(
        console, statement, "terminals.html", status_code, store_choices=stores, **context
    )


@router.get("/stores")
async def stores_page(console: Annotated[Console, Allowed(Action.STORE_READ)]) -> Response:
    return await _stores_page(console)


@router.post("/stores")
async def create_store(
    console: Annotated[Console, Allowed(Action.STORE_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in
    missing = [name for name in STORE_FIELDS if not form_text(form, name)]
    if missing:
        return console.redirect_with_error(
            STORES_URL, N_("Name, address and city are required."), form, field=missing[0]
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

    return await attempt_and_redirect(
        console, work, form, success_url=STORES_URL, success=N_("The store was created.")
    )


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

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url="/console/terminals",
        success=N_("The terminal was registered."),
    )
