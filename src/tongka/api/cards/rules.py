"""``/v1/card_issuer_quotas`` and ``/v1/card_regulation``: the platform's limits on issuers."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
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
from tongka.sales.purchase_rules import PurchaseRules, get_purchase_rules, set_purchase_rules
from tongka.sales.return_rules import ReturnRules, get_return_rules, set_return_rules

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


class PurchaseRulesBody(RequestModel):
    """The regulation's purchase rules (``tongka.sales.purchase_rules``), minor units."""

    is_enforced: bool = True
    named_min_kyc_level: int = Field(
        default=2, ge=0, le=3, description="A named card's holder: identity card (2)."
    )
    anonymous_real_name_minor: StrictInt = Field(
        default=1_000_000, gt=0, le=MAX_MINOR, description="Anonymous cards: real name from."
    )
    unit_bank_transfer_minor: StrictInt = Field(
        default=500_000, gt=0, le=MAX_MINOR, description="A unit: bank transfer from."
    )
    person_bank_transfer_minor: StrictInt = Field(
        default=5_000_000, gt=0, le=MAX_MINOR, description="A person: bank transfer from."
    )
    top_up_bank_transfer_minor: StrictInt = Field(
        default=500_000, gt=0, le=MAX_MINOR, description="One top-up: bank transfer from."
    )
    is_credit_card_forbidden: bool = True
    splitting_count: int = Field(default=3, ge=2, le=100, description="化整为零: purchases.")
    splitting_margin_percent: int = Field(
        default=10, ge=1, le=99, description="化整为零: within this far under a threshold."
    )


class ReturnRulesBody(RequestModel):
    """The regulation's return rules (退卡, ``tongka.sales.return_rules``), minor units."""

    is_enforced: bool = True
    cash_max_minor: StrictInt = Field(
        default=10_000, ge=0, le=MAX_MINOR, description="Cash only for this much or less."
    )
    is_named_only: bool = Field(default=True, description="Only named cards are returned.")


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
    purchase_rules: PurchaseRulesBody | None = Field(
        default=None, description="Buying and loading cards (omitted: unchanged)."
    )
    return_rules: ReturnRulesBody | None = Field(
        default=None, description="Returning cards, 退卡 (omitted: unchanged)."
    )


class RegulationOut(RegulationBody):
    object: Literal["card_regulation"] = "card_regulation"
    purchase_rules: PurchaseRulesBody | None = None
    return_rules: ReturnRulesBody | None = None


async def _regulation_out(
    session: SessionDep, rules: service.RegulationRules, now: datetime
) -> RegulationOut:
    purchase = await get_purchase_rules(session, now)
    returns = await get_return_rules(session)
    return RegulationOut(
        **asdict(rules),
        purchase_rules=PurchaseRulesBody(**asdict(purchase)),
        return_rules=ReturnRulesBody(**asdict(returns)),
    )


@router.get("/v1/card_regulation", summary="The prepaid-card rules products are checked against")
async def get_regulation(
    principal: Annotated[Principal, Authorized(Action.REGULATION_READ)],
    session: SessionDep,
    clock: ClockDep,
) -> RegulationOut:
    now = clock.now()
    return await _regulation_out(session, await service.get_regulation(session, now), now)


@router.post("/v1/card_regulation", summary="Platform: change the prepaid-card rules")
async def set_regulation(
    body: RegulationBody,
    principal: Annotated[Principal, Authorized(Action.REGULATION_SET)],
    session: SessionDep,
    clock: ClockDep,
) -> RegulationOut:
    now = clock.now()
    rules = service.RegulationRules(**body.model_dump(exclude={"purchase_rules", "return_rules"}))
    await service.set_regulation(session, rules, actor=principal.actor, now=now)
    if body.purchase_rules is not None:
        await set_purchase_rules(
            session,
            PurchaseRules(**body.purchase_rules.model_dump()),
            actor=principal.actor,
            now=now,
        )
    if body.return_rules is not None:
        await set_return_rules(
            session, ReturnRules(**body.return_rules.model_dump()), actor=principal.actor, now=now
        )
    return await _regulation_out(session, rules, now)
