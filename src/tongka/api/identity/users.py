"""``/v1/users`` (console users: platform operators and merchant staff) and ``/v1/consumers``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

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
    ensure_same_merchant,
)
from tongka.edge.deps import ClockDep, SessionDep
from tongka.edge.pagination import ListResponse, PageParamsDep
from tongka.edge.policy import Authorized
from tongka.edge.registration import EMAIL_PATTERN, PHONE_PATTERN
from tongka.identity import service as identity
from tongka.identity.models import Consumer, KycLevel, User
from tongka.identity.principal import Principal
from tongka.identity.sms import mask_phone
from tongka.policy import Action, scope_of

router = APIRouter(responses=ERROR_RESPONSES, route_class=IdempotentRoute)


class UserIn(RequestModel):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    display_name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "finance", "risk", "support", "merchant_admin", "cashier"] = Field(
        description="Platform roles for platform users; merchant_admin or cashier for staff."
    )
    password: str = Field(min_length=10, max_length=200)
    merchant_id: str | None = Field(
        default=None,
        max_length=40,
        description="Whose staff. Merchant callers: their own (may be omitted). Platform "
        "callers: omit to create a platform user.",
    )
    store_id: str | None = Field(default=None, max_length=40)


class UserOut(RowOut):
    object: Literal["user"] = "user"
    id: str
    kind: Literal["platform", "merchant"]
    merchant_id: str | None
    store_id: str | None
    email: str
    display_name: str
    role: str
    status: str
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class ConsumerIn(RequestModel):
    phone: str = Field(pattern=PHONE_PATTERN, examples=["13800138000"])
    display_name: str | None = Field(default=None, max_length=100)
    kyc_level: KycLevel = Field(
        default=KycLevel.NONE, description="0 none, 1 phone, 2 ID card, 3 bank card."
    )


class KycLevelIn(RequestModel):
    kyc_level: KycLevel
    verified_name: str | None = Field(
        default=None,
        max_length=100,
        description="Level 2 and up: the name on the identity document checked (实名).",
    )


class ConsumerOut(BaseModel):
    """A consumer as every response shows them: the phone number masked (``138****5678``)."""

    object: Literal["consumer"] = "consumer"
    id: str
    phone: str = Field(description="Masked: first three and last four digits.")
    display_name: str | None
    kyc_level: int
    kyc_level_name: Literal["none", "phone", "id_card", "bank_card"]
    created_at: datetime

    @classmethod
    def of(cls, consumer: Consumer) -> ConsumerOut:
        return cls(
            id=consumer.id,
            phone=mask_phone(consumer.phone),
            display_name=consumer.display_name,
            kyc_level=consumer.kyc_level,
            kyc_level_name=KycLevel(consumer.kyc_level).name.lower(),  # type: ignore[arg-type]
            created_at=consumer.created_at,
        )


@router.post(
    "/v1/users",
    status_code=201,
    response_model=UserOut,
    summary="Create a console user (merchant staff, or a platform operator)",
    tags=["users"],
)
async def create_user(
    body: UserIn,
    principal: Annotated[Principal, Authorized(Action.USER_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> UserOut:
    merchant_id = body.merchant_id
    if not principal.is_platform:
        ensure_same_merchant(principal, merchant_id or principal.merchant_id, what="merchant")
        merchant_id = principal.merchant_id
    user = await identity.create_user(
        session,
        email=body.email,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
        merchant_id=merchant_id,
        store_id=body.store_id,
        actor=principal.actor,
        now=clock.now(),
    )
    return UserOut.of(user)


@router.get("/v1/users", response_model=ListResponse[UserOut], summary="List users", tags=["users"])
async def list_users(
    principal: Annotated[Principal, Authorized(Action.USER_READ)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[UserOut]:
    """Platform callers see everyone; merchant callers their own staff."""
    statement = identity.users_query(scope_of(principal).merchant())
    return await fetch_page(session, statement, page, User, UserOut.of)


@router.get("/v1/users/{user_id}", response_model=UserOut, summary="Get a user", tags=["users"])
async def get_user(
    user_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.USER_READ)],
    session: SessionDep,
) -> UserOut:
    user = await identity.get_user(session, user_id)
    return UserOut.of(visible_to(principal, user, what="user"))


@router.post(
    "/v1/consumers",
    status_code=201,
    response_model=ConsumerOut,
    summary="Register a consumer (card holder)",
    tags=["consumers"],
)
async def create_consumer(
    body: ConsumerIn,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Authorized(Action.CONSUMER_CREATE)],
) -> ConsumerOut:
    consumer = await identity.create_consumer(
        session,
        phone=body.phone,
        display_name=body.display_name,
        kyc_level=body.kyc_level,
        actor=principal.actor,
        now=clock.now(),
    )
    return ConsumerOut.of(consumer)


@router.get(
    "/v1/consumers",
    response_model=ListResponse[ConsumerOut],
    summary="List consumers",
    tags=["consumers"],
)
async def list_consumers(
    _principal: Annotated[Principal, Authorized(Action.CONSUMER_READ)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[ConsumerOut]:
    return await fetch_page(session, identity.consumers_query(), page, Consumer, ConsumerOut.of)


@router.get(
    "/v1/consumers/{consumer_id}",
    response_model=ConsumerOut,
    summary="Get a consumer",
    tags=["consumers"],
)
async def get_consumer(
    _principal: Annotated[Principal, Authorized(Action.CONSUMER_READ)],
    consumer_id: ObjectId,
    session: SessionDep,
) -> ConsumerOut:
    return ConsumerOut.of(await identity.get_consumer(session, consumer_id))


@router.post(
    "/v1/consumers/{consumer_id}/kyc_level",
    response_model=ConsumerOut,
    summary="Set a consumer's verified KYC level (实名认证)",
    tags=["consumers"],
)
async def set_kyc_level(
    consumer_id: ObjectId,
    body: KycLevelIn,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Authorized(Action.CONSUMER_KYC)],
) -> ConsumerOut:
    consumer = await identity.set_kyc_level(
        session,
        consumer_id,
        body.kyc_level,
        actor=principal.actor,
        now=clock.now(),
        verified_name=body.verified_name,
    )
    return ConsumerOut.of(consumer)
