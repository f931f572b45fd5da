"""``/v1/webhook_endpoints``: where a merchant wants its events delivered, and how it went."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Body
from pydantic import Field

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.no_store import SecretField
from tongka.edge.pagination import ListResponse, PageParamsDep, fetch_page
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ObjectId, RequestModel, ResponseModel
from tongka.edge.scoping import endpoint_owner
from tongka.identity.principal import Principal
from tongka.policy import Action, scope_of
from tongka.webhooks import service
from tongka.webhooks.models import WebhookAttempt, WebhookEndpoint

router = APIRouter(
    prefix="/v1/webhook_endpoints",
    tags=["webhooks"],
    route_class=IdempotentRoute,
    responses=ERROR_RESPONSES,
)


class EndpointIn(RequestModel):
    url: str = Field(
        max_length=2048, description="http(s) URL; https and a public host in production."
    )
    enabled_events: list[str] = Field(
        default=["*"],
        max_length=100,
        description="Event types to deliver (e.g. card.frozen), or ['*'] for all.",
    )
    description: str = Field(default="", max_length=200)


class RotateSecretIn(RequestModel):
    previous_secret_valid_seconds: int = Field(
        default=86_400,
        ge=0,
        le=7 * 86_400,
        description="How long the old secret keeps signing alongside the new one (0: stop now).",
    )


class EndpointOut(ResponseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    merchant_id: str
    url: str
    description: str
    enabled_events: list[str]
    status: Literal["enabled", "disabled"]
    created_at: datetime
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None


class EndpointWithSecretOut(EndpointOut):
    secret: str = SecretField(description="The signing secret (whsec_...). Shown only this once.")


class AttemptOut(ResponseModel):
    id: str
    object: Literal["webhook_attempt"] = "webhook_attempt"
    delivery_id: str
    event_id: str
    attempt_number: int
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None = Field(description="The first 1000 characters of the answer.")


def _with_secret(result: service.EndpointWithSecret) -> EndpointWithSecretOut:
    """The endpoint with its secret; ``SecretField`` makes the answer ``no-store``."""
    out = EndpointOut.model_validate(result.endpoint)
    return EndpointWithSecretOut(**out.model_dump(), secret=result.secret)


@router.post(
    "",
    status_code=201,
    response_model=EndpointWithSecretOut,
    summary="Register a webhook endpoint (its signing secret is shown once)",
)
async def create_endpoint(
    body: Annotated[
        EndpointIn,
        Body(
            openapi_examples={
                "all events": {
                    "value": {"url": "https://shop.example/tongka", "enabled_events": ["*"]}
                }
            }
        ),
    ],
    principal: Annotated[Principal, Authorized(Action.WEBHOOK_MANAGE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> EndpointWithSecretOut:
    result = await service.create_endpoint(
        session,
        merchant_id=endpoint_owner(principal),
        url=body.url,
        enabled_events=body.enabled_events,
        description=body.description,
        actor=principal.actor,
        settings=settings,
        now=clock.now(),
    )
    return _with_secret(result)


@router.get("", response_model=ListResponse[EndpointOut], summary="List webhook endpoints")
async def list_endpoints(
    principal: Annotated[Principal, Authorized(Action.WEBHOOK_MANAGE)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[EndpointOut]:
    statement = service.endpoints_query(scope_of(principal).merchant())
    return await fetch_page(session, statement, page, WebhookEndpoint, EndpointOut.model_validate)


@router.get("/{endpoint_id}", response_model=EndpointOut, summary="Retrieve a webhook endpoint")
async def get_endpoint(
    endpoint_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.WEBHOOK_MANAGE)],
    session: SessionDep,
) -> EndpointOut:
    endpoint = await service.get_endpoint(
        session, endpoint_id, merchant_id=scope_of(principal).merchant()
    )
    return EndpointOut.model_validate(endpoint)


@router.post(
    "/{endpoint_id}/disable",
    response_model=EndpointOut,
    summary="Disable a webhook endpoint (its pending deliveries are canceled)",
)
async def disable_endpoint(
    endpoint_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.WEBHOOK_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> EndpointOut:
    endpoint = await service.disable_endpoint(
        session,
        endpoint_id,
        merchant_id=scope_of(principal).merchant(),
        actor=principal.actor,
        now=clock.now(),
    )
    return EndpointOut.model_validate(endpoint)


@router.post(
    "/{endpoint_id}/rotate_secret",
    response_model=EndpointWithSecretOut,
    summary="Replace the signing secret (the new one is shown once)",
)
async def rotate_secret(
    endpoint_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.WEBHOOK_MANAGE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    body: RotateSecretIn | None = None,
) -> EndpointWithSecretOut:
    grace = (body or RotateSecretIn()).previous_secret_valid_seconds
    result = await service.rotate_secret(
        session,
        endpoint_id,
        merchant_id=endpoint_owner(principal),
        previous_valid_for=timedelta(seconds=grace),
        actor=principal.actor,
        settings=settings,
        now=clock.now(),
    )
    return _with_secret(result)


@router.get(
    "/{endpoint_id}/attempts",
    response_model=ListResponse[AttemptOut],
    summary="List delivery attempts to a webhook endpoint",
)
async def list_attempts(
    endpoint_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.WEBHOOK_MANAGE)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[AttemptOut]:
    endpoint = await service.get_endpoint(
        session, endpoint_id, merchant_id=scope_of(principal).merchant()
    )
    statement = service.attempts_query(endpoint.id)
    return await fetch_page(
        session,
        statement,
        page,
        WebhookAttempt,
        AttemptOut.model_validate,
        created_column=WebhookAttempt.attempted_at,
    )
