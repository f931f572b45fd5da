"""Consumer (card holder) sign-in by phone + one-time code, and the consumer's own profile.

``POST /v1/consumer_sessions/codes`` and ``POST /v1/consumer_sessions`` are public; the
token the second returns (``tk_con_...``) is then sent as ``Authorization: Bearer``, and
``DELETE /v1/consumer_sessions/current`` ends it. Per-IP limits on these public endpoints
come with the API conventions' rate limiter; the per-phone limits are in the service.
The console's consumer login page (``/console/consumer/login``) uses the same services.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tongka.api.errors import ERROR_RESPONSES, ErrorBody, error_response
from tongka.api.identity.schemas import RequestModel
from tongka.api.identity.users import ConsumerOut
from tongka.edge.auth import IdentityKeysDep
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.edge.no_store import SecretField
from tongka.edge.policy import Authorized, Public
from tongka.identity import consumer_login
from tongka.identity import service as identity
from tongka.identity.principal import Principal
from tongka.identity.sms import mask_phone, sms_sender_for
from tongka.policy import Action

router = APIRouter(
    responses=ERROR_RESPONSES, tags=["consumer sign-in"], route_class=UnitOfWorkRoute
)

PHONE_FIELD = Field(
    min_length=11,
    max_length=20,
    examples=["13800138000"],
    description="A mainland China mobile number (11 digits; +86, spaces and dashes allowed).",
)

FAILURE_MESSAGES = {
    consumer_login.CODE_INVALID: "The code is wrong or no longer valid; check it or ask for "
    "a new one.",
    consumer_login.CODE_EXPIRED: "The code has expired; ask for a new one.",
    consumer_login.CODE_LOCKED: "Too many wrong attempts for this code; ask for a new one.",
}


class LoginCodeRequestIn(RequestModel):
    phone: str = PHONE_FIELD


class LoginCodeSentOut(BaseModel):
    """The same answer whether or not the phone belongs to a consumer yet."""

    object: Literal["consumer_login_code"] = "consumer_login_code"
    phone: str = Field(description="Masked.")
    expires_at: datetime
    resend_after_seconds: int


class ConsumerSessionIn(RequestModel):
    phone: str = PHONE_FIELD
    code: str = Field(min_length=1, max_length=12, examples=["123456"])


class ConsumerSessionOut(BaseModel):
    object: Literal["consumer_session"] = "consumer_session"
    id: str
    token: str = SecretField(description="Send as `Authorization: Bearer <token>`. Shown once.")
    expires_at: datetime = Field(description="At the latest; also ends after 2 hours idle.")
    consumer: ConsumerOut


@router.post(
    "/v1/consumer_sessions/codes",
    status_code=202,
    response_model=LoginCodeSentOut,
    summary="Send a sign-in code by SMS (public, rate limited per phone)",
    responses={503: {"model": ErrorBody, "description": "No SMS gateway is configured."}},
    dependencies=[Public("signing in")],
)
async def request_login_code(
    body: LoginCodeRequestIn,
    session: SessionDep,
    clock: ClockDep,
    keys: IdentityKeysDep,
    settings: SettingsDep,
) -> LoginCodeSentOut:
    sent = await consumer_login.request_login_code(
        session, keys, body.phone, now=clock.now(), sender=sms_sender_for(settings)
    )
    return LoginCodeSentOut(
        phone=mask_phone(sent.phone),
        expires_at=sent.expires_at,
        resend_after_seconds=int(consumer_login.RESEND_INTERVAL.total_seconds()),
    )


@router.post(
    "/v1/consumer_sessions",
    status_code=201,
    response_model=ConsumerSessionOut,
    summary="Sign in with phone + code: a consumer session token (public)",
    dependencies=[Public("signing in")],
)
async def create_consumer_session(
    body: ConsumerSessionIn, session: SessionDep, clock: ClockDep, keys: IdentityKeysDep
) -> ConsumerSessionOut | JSONResponse:
    """A first sign-in creates the consumer at KYC level 1 (phone verified).

    A failure answers 401 with ``login_code_invalid``, ``login_code_expired`` or
    ``login_code_locked``; the wrong attempt is still counted (the transaction commits).
    """
    result = await consumer_login.verify_login_code(
        session, keys, body.phone, body.code, now=clock.now()
    )
    if not result.succeeded:
        failure = result.failure or consumer_login.CODE_INVALID
        return error_response(
            401,
            type="authentication_failed",
            code=failure,
            message=FAILURE_MESSAGES[failure],
            param="code",
        )
    assert result.consumer is not None
    assert result.console_session is not None
    assert result.session_token is not None
    return ConsumerSessionOut(
        id=result.console_session.id,
        token=result.session_token,
        expires_at=result.console_session.expires_at,
        consumer=ConsumerOut.of(result.consumer),
    )


@router.delete(
    "/v1/consumer_sessions/current",
    status_code=204,
    summary="Sign out: the consumer's session token stops working",
)
async def end_consumer_session(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    _principal: Annotated[Principal, Authorized(Action.CONSUMER_SELF)],
) -> Response:
    await identity.end_session(session, request.state.console_session, now=clock.now())
    return Response(status_code=204)


@router.get(
    "/v1/consumers/me",
    response_model=ConsumerOut,
    summary="The signed-in consumer's own profile",
    tags=["consumers"],
)
async def my_profile(
    session: SessionDep, principal: Annotated[Principal, Authorized(Action.CONSUMER_SELF)]
) -> ConsumerOut:
    assert principal.consumer_id is not None
    return ConsumerOut.of(await identity.get_consumer(session, principal.consumer_id))
