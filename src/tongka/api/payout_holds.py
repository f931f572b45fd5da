"""Payout holds (延迟结算): ``GET /v1/payout_holds`` (who is held now) and
``PUT /v1/merchants/{merchant_id}/payout_hold`` (hold or release at once, with a reason).

Risk, finance and the platform's admin set them (``payout.hold``); a merchant sees its own
hold. Batches keep closing while held; their payouts wait and carry (``settlement.payouts``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from tongka.api.errors import ERROR_RESPONSES
from tongka.edge.deps import ClockDep, SessionDep, UnitOfWorkRoute
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ObjectId, RequestModel, ResponseModel
from tongka.identity.common import get_object
from tongka.identity.models import Merchant
from tongka.identity.principal import Principal
from tongka.policy import Action, scope_of
from tongka.settlement import contracts
from tongka.settlement.models import PayoutHold

router = APIRouter(tags=["settlement"], route_class=UnitOfWorkRoute, responses=ERROR_RESPONSES)


class PayoutHoldIn(RequestModel):
    is_held: bool = Field(description="true: hold the merchant's payouts; false: release them.")
    reason: str = Field(min_length=1, max_length=500, examples=["风控复核中"])


class PayoutHoldOut(ResponseModel):
    object: Literal["payout_hold"] = "payout_hold"
    merchant_id: str
    is_held: bool
    reason: str
    set_by: str
    set_at: datetime

    @classmethod
    def of(cls, row: PayoutHold) -> PayoutHoldOut:
        return cls(
            merchant_id=row.merchant_id,
            is_held=row.is_held,
            reason=row.reason,
            set_by=row.set_by,
            set_at=row.set_at,
        )


class PayoutHoldsOut(ResponseModel):
    object: Literal["list"] = "list"
    data: list[PayoutHoldOut]


@router.get("/v1/payout_holds", summary="Merchants whose payouts are held now")
async def list_payout_holds(
    principal: Annotated[Principal, Authorized(Action.PAYOUT_READ)], session: SessionDep
) -> PayoutHoldsOut:
    statement = select(PayoutHold).where(PayoutHold.is_held.is_(True))
    merchant_id = scope_of(principal).merchant()
    if merchant_id is not None:
        statement = statement.where(PayoutHold.merchant_id == merchant_id)
    rows = (await session.scalars(statement.order_by(PayoutHold.set_at).limit(1000))).all()
    return PayoutHoldsOut(data=[PayoutHoldOut.of(row) for row in rows])


@router.put(
    "/v1/merchants/{merchant_id}/payout_hold",
    summary="Hold (延迟结算) or release a merchant's payouts, with a reason",
)
async def set_payout_hold(
    merchant_id: ObjectId,
    body: PayoutHoldIn,
    principal: Annotated[Principal, Authorized(Action.PAYOUT_HOLD)],
    session: SessionDep,
    clock: ClockDep,
) -> PayoutHoldOut:
    await get_object(session, Merchant, merchant_id, "merchant")
    row = await contracts.set_payout_hold(
        session,
        merchant_id,
        is_held=body.is_held,
        reason=body.reason,
        actor=principal.actor,
        now=clock.now(),
    )
    return PayoutHoldOut.of(row)
