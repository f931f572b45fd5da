"""预收资金存管: ``PUT /v1/merchants/{merchant_id}/issuer_class`` (the platform classes a
single-purpose issuer) and ``GET /v1/deposit_ratios`` (each classed issuer's quarter
requirement and what the platform holds for it; a merchant sees its own)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from tongka.api.cards.common import money
from tongka.api.errors import ERROR_RESPONSES
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ObjectId, RequestModel, ResponseModel
from tongka.identity.common import get_object
from tongka.identity.models import Merchant
from tongka.identity.principal import Principal
from tongka.money import MoneyModel
from tongka.policy import Action, scope_of
from tongka.settlement import deposits
from tongka.settlement.deposits import DepositFigures, IssuerKind

router = APIRouter(tags=["settlement"], route_class=UnitOfWorkRoute, responses=ERROR_RESPONSES)


class IssuerClassIn(RequestModel):
    issuer_class: IssuerKind = Field(
        description="scale (规模发卡企业, 20 %), group (集团, 30 %) or brand (品牌, 40 %)."
    )


class IssuerClassOut(ResponseModel):
    object: Literal["issuer_class"] = "issuer_class"
    merchant_id: str
    issuer_class: IssuerKind
    ratio_bp: int = Field(description="The deposit ratio in basis points (2000 is 20 %).")
    set_by: str
    set_at: datetime


class DepositRatioOut(ResponseModel):
    object: Literal["deposit_ratio"] = "deposit_ratio"
    merchant_id: str
    quarter: str
    issuer_class: IssuerKind
    ratio_bp: int
    prepaid_balance_at_start: MoneyModel = Field(description="When the quarter began.")
    required: MoneyModel
    held: MoneyModel = Field(description="Its cards' balances, payable and rolling reserve.")
    prepaid_balance: MoneyModel = Field(description="Its cards' balances now.")
    held_bp: int | None = Field(description="Held, in basis points of the opening balance.")
    is_met: bool

    @classmethod
    def of(cls, figures: DepositFigures) -> DepositRatioOut:
        c = figures.currency
        return cls(
            merchant_id=figures.merchant_id,
            quarter=figures.quarter,
            issuer_class=IssuerKind(figures.issuer_class),
            ratio_bp=figures.ratio_bp,
            prepaid_balance_at_start=money(figures.prepaid_balance_at_start, c),
            required=money(figures.required, c),
            held=money(figures.held, c),
            prepaid_balance=money(figures.prepaid_balance, c),
            held_bp=figures.held_bp,
            is_met=figures.is_met,
        )


class DepositRatiosOut(ResponseModel):
    object: Literal["list"] = "list"
    data: list[DepositRatioOut]


@router.put(
    "/v1/merchants/{merchant_id}/issuer_class",
    summary="Class a single-purpose issuer (预收资金存管: its deposit ratio follows)",
)
async def set_issuer_class(
    merchant_id: ObjectId,
    body: IssuerClassIn,
    principal: Annotated[Principal, Authorized(Action.CONTRACT_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> IssuerClassOut:
    await get_object(session, Merchant, merchant_id, "merchant")
    row = await deposits.set_issuer_class(
        session, merchant_id, body.issuer_class, actor=principal.actor, now=clock.now()
    )
    kind = IssuerKind(row.issuer_class)
    return IssuerClassOut(
        merchant_id=row.merchant_id,
        issuer_class=kind,
        ratio_bp=deposits.RATIO_BP[kind],
        set_by=row.set_by,
        set_at=row.set_at,
    )


@router.get("/v1/deposit_ratios", summary="Each classed issuer against its deposit ratio")
async def list_deposit_ratios(
    principal: Annotated[Principal, Authorized(Action.SETTLEMENT_READ)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    currency: Annotated[str, Query(pattern="^[A-Z]{3}$")] = "CNY",
) -> DepositRatiosOut:
    shown = scope_of(principal).merchant()
    found = []
    for issuer in await deposits.classed_issuers(session):
        if shown is not None and issuer.merchant_id != shown:
            continue
        figures = await deposits.deposit_figures(
            session, issuer.merchant_id, currency, now=clock.now(), timezone=settings.timezone
        )
        if figures is not None:
            found.append(DepositRatioOut.of(figures))
    return DepositRatiosOut(data=found)
