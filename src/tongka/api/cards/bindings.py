"""Binding a card to its holder with the holder's consent (see ``tongka.cards.binding``).

``POST /v1/cards/{card_id}/holder_bindings`` (the issuer): text a code to a phone; the
answer is the same whether or not a consumer has that phone. ``POST
/v1/holder_bindings/confirm`` (the signed-in holder, ``tk_con_...`` bearer): enter the
code; only then is the card bound. The consumer console's 我的卡 page does the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tongka.api.cards.common import new_router
from tongka.api.errors import ErrorBody, error_response
from tongka.cards import binding, service
from tongka.cards.models import CardHolderBinding
from tongka.edge.auth import IdentityKeysDep
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ObjectId, RequestModel
from tongka.identity.principal import Principal
from tongka.identity.sms import mask_phone, sms_sender_for
from tongka.policy import Action

router = new_router()

FAILURE_MESSAGES = {
    binding.CODE_INVALID: "The code is wrong or no longer valid; check it or ask the card's "
    "issuer for a new one.",
    binding.CODE_EXPIRED: "The code has expired; ask the card's issuer for a new one.",
    binding.CODE_LOCKED: "Too many wrong attempts; ask the card's issuer for a new code.",
}


class BindingRequest(RequestModel):
    phone: str = Field(
        min_length=11,
        max_length=20,
        examples=["13800138000"],
        description="The holder's mainland China mobile number; they receive the code.",
    )


class BindingOut(BaseModel):
    """The same answer whether or not the phone belongs to a consumer."""

    object: Literal["holder_binding"] = "holder_binding"
    id: str
    card_id: str
    phone: str = Field(description="Masked.")
    status: service.BindingStatus
    expires_at: datetime
    holder_id: str | None = Field(description="Set once the holder has confirmed.")

    @classmethod
    def of(cls, row: CardHolderBinding) -> BindingOut:
        return cls(
            id=row.id,
            card_id=row.card_id,
            phone=mask_phone(row.phone),
            status=service.BindingStatus(row.status),
            expires_at=row.expires_at,
            holder_id=row.consumer_id,
        )


class BindingConfirm(RequestModel):
    code: str = Field(min_length=1, max_length=12, examples=["123456"])


@router.post(
    "/v1/cards/{card_id}/holder_bindings",
    status_code=201,
    summary="Ask the holder of a phone to accept the card (they confirm a texted code)",
    responses={503: {"model": ErrorBody, "description": "No SMS gateway is configured."}},
)
async def request_binding(
    card_id: ObjectId,
    body: BindingRequest,
    principal: Annotated[Principal, Authorized(Action.BINDING_REQUEST)],
    session: SessionDep,
    clock: ClockDep,
    keys: IdentityKeysDep,
    settings: SettingsDep,
) -> BindingOut:
    row = await service.request_binding(
        session,
        keys,
        card_id,
        body.phone,
        merchant_id=principal.merchant_id,
        actor=principal.actor,
        now=clock.now(),
        sender=sms_sender_for(settings),
    )
    return BindingOut.of(row)


@router.post(
    "/v1/holder_bindings/confirm",
    response_model=BindingOut,
    summary="Holder: confirm a binding with the texted code (the card becomes yours)",
)
async def confirm_binding(
    body: BindingConfirm,
    session: SessionDep,
    clock: ClockDep,
    keys: IdentityKeysDep,
    principal: Annotated[Principal, Authorized(Action.BINDING_CONFIRM)],
) -> BindingOut | JSONResponse:
    """A wrong code answers 422 ``holder_binding_code_invalid|expired|locked`` and is
    still counted (the transaction commits)."""
    result = await service.confirm_binding(
        session, keys, str(principal.consumer_id), body.code, now=clock.now()
    )
    if not result.succeeded or result.binding is None:
        failure = result.failure or binding.CODE_INVALID
        return error_response(
            422,
            type="unprocessable",
            code=failure,
            message=FAILURE_MESSAGES[failure],
            param="code",
        )
    return BindingOut.of(result.binding)
