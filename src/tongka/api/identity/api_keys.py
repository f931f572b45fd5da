"""``/v1/api_keys``: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
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
    IdentityKeysDep,
    ensure_same_merchant,
)
from tongka.edge.deps import ClockDep, SessionDep
from tongka.edge.no_store import SecretField
from tongka.edge.pagination import ListResponse, PageParamsDep
from tongka.edge.policy import Authorized
from tongka.errors import InvalidRequest, PermissionDenied
from tongka.identity import service as identity
from tongka.identity.models import ApiKey
from tongka.identity.principal import Principal
from tongka.policy import Action, scope_of

router = APIRouter(
    prefix="/v1/api_keys", tags=["api_keys"], responses=ERROR_RESPONSES, route_class=IdempotentRoute
)


class ApiKeyIn(RequestModel):
    name: str = Field(min_length=1, max_length=100, examples=["POS integration"])
    kind: Literal["merchant", "platform"] = Field(
        default="merchant", description="Platform keys (for operators) need a platform admin."
    )
    role: Literal["full", "cashier", "admin", "finance", "risk", "support"] = Field(
        default="full",
        description="Merchant keys: full or cashier. Platform keys: a platform role.",
    )
    merchant_id: str | None = Field(
        default=None, max_length=40, description="Platform callers name the merchant."
    )
    store_id: str | None = Field(
        default=None, max_length=40, description="Limit a (cashier) key to one store."
    )


class ApiKeyOut(RowOut):
    object: Literal["api_key"] = "api_key"
    id: str
    kind: Literal["merchant", "platform"]
    merchant_id: str | None
    store_id: str | None
    name: str
    role: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    created_by: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="Recorded to the minute.")
    revoked_at: datetime | None


class CreatedApiKeyOut(ApiKeyOut):
    secret: str = SecretField(
        description="The key itself. Shown only in this response; store it now."
    )


@router.post(
    "",
    status_code=201,
    response_model=CreatedApiKeyOut,
    summary="Create an API key (the secret is returned once and cannot be shown again)",
)
async def create_api_key(
    body: ApiKeyIn,
    principal: Annotated[Principal, Authorized(Action.API_KEY_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
    keys: IdentityKeysDep,
) -> CreatedApiKeyOut:
    if body.kind == "platform":
        if not principal.is_platform:
            raise PermissionDenied(
                "Only platform admins create platform keys.",
                details={"problem": "platform_key_admin_only"},
            )
        merchant_id = None
    elif principal.is_platform:
        merchant_id = body.merchant_id
        if merchant_id is None:
            raise InvalidRequest(
                "Name the merchant: merchant_id.", code="merchant_id_required", param="merchant_id"
            )
    else:
        ensure_same_merchant(principal, body.merchant_id or principal.merchant_id, what="merchant")
        merchant_id = principal.merchant_id
    issued = await identity.create_api_key(
        session,
        keys,
        name=body.name,
        role=body.role,
        merchant_id=merchant_id,
        store_id=body.store_id,
        actor=principal.actor,
        now=clock.now(),
    )
    return CreatedApiKeyOut(**ApiKeyOut.of(issued.api_key).model_dump(), secret=issued.secret)


@router.get("", response_model=ListResponse[ApiKeyOut], summary="List API keys (never secrets)")
async def list_api_keys(
    principal: Annotated[Principal, Authorized(Action.API_KEY_READ)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[ApiKeyOut]:
    statement = identity.api_keys_query(scope_of(principal).merchant())
    return await fetch_page(session, statement, page, ApiKey, ApiKeyOut.of)


@router.get("/{key_id}", response_model=ApiKeyOut, summary="Get an API key (never its secret)")
async def get_api_key(
    key_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.API_KEY_READ)],
    session: SessionDep,
) -> ApiKeyOut:
    api_key = await identity.get_api_key(session, key_id)
    return ApiKeyOut.of(visible_to(principal, api_key, what="API key"))


@router.post(
    "/{key_id}/revoke",
    response_model=ApiKeyOut,
    summary="Revoke an API key: it stops working at once (revoking twice is harmless)",
)
async def revoke_api_key(
    key_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.API_KEY_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> ApiKeyOut:
    visible_to(principal, await identity.get_api_key(session, key_id), what="API key")
    revoked = await identity.revoke_api_key(session, key_id, actor=principal.actor, now=clock.now())
    return ApiKeyOut.of(revoked)
