"""``/v1/stores`` and ``/v1/terminals`` (门店 / 终端): a merchant's places and POS devices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.api.identity.schemas import (
    ObjectId,
    RequestModel,
    RowOut,
    fetch_page,
    visible_to,
)
from tongka.edge.auth import (
    merchant_scope,
)
from tongka.edge.deps import ClockDep, SessionDep
from tongka.edge.pagination import ListResponse, PageParamsDep
from tongka.edge.policy import Authorized
from tongka.identity import service as identity
from tongka.identity.models import Store, Terminal
from tongka.identity.principal import Principal
from tongka.policy import Action, scope_of

router = APIRouter(responses=ERROR_RESPONSES, route_class=IdempotentRoute)

MERCHANT_ID_FIELD = Field(
    default=None,
    max_length=40,
    description="Platform callers name the merchant; merchant callers may omit it.",
)


class StoreIn(RequestModel):
    merchant_id: str | None = MERCHANT_ID_FIELD
    name: str = Field(min_length=1, max_length=200, examples=["静安寺店"])
    address: str = Field(min_length=1, max_length=500, examples=["上海市静安区南京西路1788号"])
    city: str = Field(min_length=1, max_length=100, examples=["上海"])
    latitude: Decimal | None = Field(default=None, ge=-90, le=90, max_digits=9, decimal_places=6)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180, max_digits=9, decimal_places=6)


class StoreOut(RowOut):
    object: Literal["store"] = "store"
    id: str
    merchant_id: str
    name: str
    address: str
    city: str
    latitude: Decimal | None = Field(description="Degrees, as a decimal string.")
    longitude: Decimal | None = Field(description="Degrees, as a decimal string.")
    status: str
    created_at: datetime


class TerminalIn(RequestModel):
    store_id: str = Field(min_length=1, max_length=40)
    device_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="The POS device's serial; unique per merchant.",
        examples=["POS-0001"],
    )
    name: str | None = Field(default=None, max_length=100)


class TerminalOut(RowOut):
    object: Literal["terminal"] = "terminal"
    id: str
    merchant_id: str
    store_id: str
    device_id: str
    name: str | None
    status: str
    created_at: datetime


@router.post(
    "/v1/stores", status_code=201, response_model=StoreOut, summary="Open a store", tags=["stores"]
)
async def create_store(
    body: StoreIn,
    principal: Annotated[Principal, Authorized(Action.STORE_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> StoreOut:
    store = await identity.create_store(
        session,
        merchant_id=merchant_scope(principal, body.merchant_id),
        name=body.name,
        address=body.address,
        city=body.city,
        latitude=body.latitude,
        longitude=body.longitude,
        actor=principal.actor,
        now=clock.now(),
    )
    return StoreOut.of(store)


@router.get(
    "/v1/stores", response_model=ListResponse[StoreOut], summary="List stores", tags=["stores"]
)
async def list_stores(
    principal: Annotated[Principal, Authorized(Action.STORE_READ)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[StoreOut]:
    scope = scope_of(principal)
    statement = identity.stores_query(scope.merchant(), scope.store())
    return await fetch_page(session, statement, page, Store, StoreOut.of)


@router.get(
    "/v1/stores/{store_id}", response_model=StoreOut, summary="Get a store", tags=["stores"]
)
async def get_store(
    store_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.STORE_READ)],
    session: SessionDep,
) -> StoreOut:
    store = await identity.get_store(session, store_id, merchant_id=None)
    return StoreOut.of(visible_to(principal, store, what="store", store_id=store.id))


@router.post(
    "/v1/terminals",
    status_code=201,
    response_model=TerminalOut,
    summary="Register a POS terminal at one of the merchant's stores",
    tags=["terminals"],
)
async def create_terminal(
    body: TerminalIn,
    principal: Annotated[Principal, Authorized(Action.TERMINAL_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> TerminalOut:
    store = await identity.get_store(session, body.store_id, merchant_id=None)
    visible_to(principal, store, what="store", store_id=store.id)
    terminal = await identity.create_terminal(
        session,
        merchant_id=store.merchant_id,
        store_id=store.id,
        device_id=body.device_id,
        name=body.name,
        actor=principal.actor,
        now=clock.now(),
    )
    return TerminalOut.of(terminal)


@router.get(
    "/v1/terminals",
    response_model=ListResponse[TerminalOut],
    summary="List terminals",
    tags=["terminals"],
)
async def list_terminals(
    principal: Annotated[Principal, Authorized(Action.TERMINAL_READ)],
    session: SessionDep,
    page: PageParamsDep,
    store_id: Annotated[str | None, Query(max_length=40, description="Only this store's.")] = None,
) -> ListResponse[TerminalOut]:
    scope = scope_of(principal)
    statement = identity.terminals_query(scope.merchant(), scope.store(store_id))
    return await fetch_page(session, statement, page, Terminal, TerminalOut.of)


@router.get(
    "/v1/terminals/{terminal_id}",
    response_model=TerminalOut,
    summary="Get a terminal",
    tags=["terminals"],
)
async def get_terminal(
    terminal_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.TERMINAL_READ)],
    session: SessionDep,
) -> TerminalOut:
    terminal = await identity.get_terminal(session, terminal_id)
    return TerminalOut.of(
        visible_to(principal, terminal, what="terminal", store_id=terminal.store_id)
    )
