"""``/v1/card_issuer_quotas`` and ``/v1/card_regulation``: the platform's limits on issuers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt

from tongka.api.cards.common import (
    MAX_MINOR,
    QuotaIn,
    money,
    new_router,
)
from tongka.cards import service
from tongka.edge.deps import ClockDep, SessionDep
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, RequestModel
from tongka.identity.principal import Principal
from tongka.money import MoneyModel
from tongka.policy import Action

router = new_router()


class QuotaSet(RequestModel):
    merchant_id: str = Field(pattern=ID_PATTERN, examples=["mch_01j9z3k4"])
    quota: QuotaIn = Field(description="What the issuer's cards may hold in total.")


class QuotaOut(BaseModel):
    object: Literal["card_issuer_quota"] = "card_issuer_quota"
    merchant_id: str
    currency: str
    quota: MoneyModel
    outstanding: MoneyModel


@router.post("/v1/card_issuer_quotas", summary="Platform: grant an issuer its quota (额度)")
async def set_quota(
    body: QuotaSet,
    principal: Annotated[Principal, Authorized(Action.QUOTA_SET)],
    session: SessionDep,
    clock: ClockDep,
) -> QuotaOut:
    currency = body.quota.currency
    row = await service.set_quota(
        session,
        body.merchant_id,
        currency,
        body.quota.amount,
        actor=principal.actor,
        now=clock.now(),
    )
    outstanding = await service.outstanding_balance(session, body.merchant_id, currency)
    return QuotaOut(
        merchant_id=row.merchant_id,
        currency=row.currency,
        quota=money(row.quota, row.currency),
        outstanding=money(outstanding, row.currency),
    )


# --- the regulation ----------------------------------------------------------------------


class RegulationBody(RequestModel):
    """单用途商业预付卡管理办法（试行） as the platform enforces it (amounts in minor units)."""

    is_enforced: bool = True
    anonymous_max_balance: StrictInt = Field(
        default=100_000, gt=0, le=MAX_MINOR, description="第二十一条"
    )
    named_max_balance: StrictInt = Field(
        default=500_000, gt=0, le=MAX_MINOR, description="第二十一条"
    )
    anonymous_min_validity_months: int = Field(default=36, ge=0, le=1200, description="第二十二条")
    is_named_expiry_forbidden: bool = Field(default=True, description="第二十二条")


class RegulationOut(RegulationBody):
    object: Literal["card_regulation"] = "card_regulation"


@router.get("/v1/card_regulation", summary="The prepaid-card rules products are checked against")
async def get_regulation(
    principal: Annotated[Principal, Authorized(Action.REGULATION_READ)],
    session: SessionDep,
    clock: ClockDep,
) -> RegulationOut:
    return RegulationOut(**asdict(await service.get_regulation(session, clock.now())))


@router.post("/v1/card_regulation", summary="Platform: change the prepaid-card rules")
async def set_regulation(
    body: RegulationBody,
    principal: Annotated[Principal, Authorized(Action.REGULATION_SET)],
    session: SessionDep,
    clock: ClockDep,
) -> RegulationOut:
    rules = service.RegulationRules(**body.model_dump())
    await service.set_regulation(session, rules, actor=principal.actor, now=clock.now())
    return RegulationOut(**asdict(rules))
