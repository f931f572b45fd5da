"""``/v1/merchants``: public registration, the platform's review (开户与入驻), reading."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.api.identity.schemas import ObjectId, RequestModel, fetch_page
from tongka.clock import Clock
from tongka.edge.auth import (
    IdentityKeysDep,
    ensure_same_merchant,
)
from tongka.edge.deps import ClockDep, SessionDep
from tongka.edge.pagination import ListResponse, PageParamsDep
from tongka.edge.policy import Authorized, Public
from tongka.edge.registration import MerchantRegistrationIn, registration_of
from tongka.identity import service as identity
from tongka.identity.models import Merchant, MerchantStatus
from tongka.identity.principal import Principal
from tongka.policy import Action, scope_of

router = APIRouter(
    prefix="/v1/merchants",
    tags=["merchants"],
    responses=ERROR_RESPONSES,
    route_class=IdempotentRoute,
)


class RejectionIn(RequestModel):
    reason: str = Field(min_length=1, max_length=500)


class SuspensionIn(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class SettlementAccountOut(BaseModel):
    bank_name: str | None
    account_name: str | None
    account_number_masked: str | None


class MerchantOut(BaseModel):
    object: Literal["merchant"] = "merchant"
    id: str
    legal_name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    contact_email: str
    settlement_account: SettlementAccountOut | None
    status: MerchantStatus
    reviewed_by: str | None
    reviewed_at: datetime | None
    rejection_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantOut:
        account = None
        if merchant.settlement_account_last4 is not None:
            account = SettlementAccountOut(
                bank_name=merchant.settlement_bank_name,
                account_name=merchant.settlement_account_name,
                account_number_masked=identity.masked_account_number(
                    merchant.settlement_account_last4
                ),
            )
        return cls(
            id=merchant.id,
            legal_name=merchant.legal_name,
            credit_code=merchant.credit_code,
            contact_name=merchant.contact_name,
            contact_phone=merchant.contact_phone,
            contact_email=merchant.contact_email,
            settlement_account=account,
            status=MerchantStatus(merchant.status),
            reviewed_by=merchant.reviewed_by,
            reviewed_at=merchant.reviewed_at,
            rejection_reason=merchant.rejection_reason,
            created_at=merchant.created_at,
        )


@router.post(
    "",
    status_code=201,
    response_model=MerchantOut,
    summary="Register a merchant (public; the platform reviews it before it can do business)",
    dependencies=[Public("merchant registration")],
)
async def register_merchant(
    body: MerchantRegistrationIn, session: SessionDep, clock: ClockDep, keys: IdentityKeysDep
) -> MerchantOut:
    merchant, _admin = await identity.register_merchant(
        session, keys, registration_of(body), now=clock.now()
    )
    return MerchantOut.of(merchant)


@router.get("", response_model=ListResponse[MerchantOut], summary="List merchants")
async def list_merchants(
    principal: Annotated[Principal, Authorized(Action.MERCHANT_READ)],
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[MerchantStatus | None, Query(description="Only this status.")] = None,
) -> ListResponse[MerchantOut]:
    """The platform sees every merchant; a merchant sees only itself."""
    statement = identity.merchants_query(scope_of(principal).merchant(), status)
    return await fetch_page(session, statement, page, Merchant, MerchantOut.of)


@router.get("/{merchant_id}", response_model=MerchantOut, summary="Get a merchant")
async def get_merchant(
    merchant_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.MERCHANT_READ)],
    session: SessionDep,
) -> MerchantOut:
    ensure_same_merchant(principal, merchant_id, what="merchant")
    return MerchantOut.of(await identity.get_merchant(session, merchant_id))


async def _review(
    session: AsyncSession,
    merchant_id: str,
    decision: str,
    principal: Principal,
    clock: Clock,
    *,
    reason: str | None = None,
) -> MerchantOut:
    """Record the platform's decision (approve, reject, suspend) and answer with the merchant."""
    merchant = await identity.review_merchant(
        session, merchant_id, decision, actor=principal.actor, now=clock.now(), reason=reason
    )
    return MerchantOut.of(merchant)


@router.post(
    "/{merchant_id}/approve",
    response_model=MerchantOut,
    summary="Approve a registration (or lift a suspension): the merchant becomes active",
)
async def approve_merchant(
    merchant_id: ObjectId,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Authorized(Action.MERCHANT_REVIEW)],
) -> MerchantOut:
    return await _review(session, merchant_id, "approve", principal, clock)


@router.post("/{merchant_id}/reject", response_model=MerchantOut, summary="Reject a registration")
async def reject_merchant(
    merchant_id: ObjectId,
    body: RejectionIn,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Authorized(Action.MERCHANT_REVIEW)],
) -> MerchantOut:
    return await _review(session, merchant_id, "reject", principal, clock, reason=body.reason)


@router.post(
    "/{merchant_id}/suspend",
    response_model=MerchantOut,
    summary="Suspend an active merchant: its keys and users stop working until approved again",
)
async def suspend_merchant(
    merchant_id: ObjectId,
    body: SuspensionIn,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Authorized(Action.MERCHANT_REVIEW)],
) -> MerchantOut:
    return await _review(session, merchant_id, "suspend", principal, clock, reason=body.reason)
