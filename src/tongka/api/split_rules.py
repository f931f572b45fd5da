"""``/v1/split_rules``: the split rules (分账) between an issuer and an acceptor.

``PUT`` writes the pair's next version from a date (platform admin and finance,
``contract.manage``; a repeated PUT of the same rule and date changes nothing). ``GET``
lists every version: the platform all, a merchant those where it is a party. The rule's
JSON is ``settlement.split_rules``'s; it is applied when the acceptor's batch is built.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field

from tongka.api.errors import ERROR_RESPONSES
from tongka.clock import business_date
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, RequestModel, ResponseModel
from tongka.identity.common import get_object
from tongka.identity.models import Merchant
from tongka.identity.principal import Principal
from tongka.policy import Action, scope_of
from tongka.settlement import split_rules
from tongka.settlement.models import SplitRuleRow

router = APIRouter(tags=["settlement"], route_class=UnitOfWorkRoute, responses=ERROR_RESPONSES)

EXAMPLE_RULE = {
    "shares": [
        {"party": "issuer", "percent": "0.7", "cap_percent": "0.3"},
        {"party": "acceptor", "percent": "0.25"},
        {"party": "platform", "percent": "0.05"},
    ],
    "remainder": "largest_remainder",
    "excess_party": "acceptor",
}


class SplitRuleIn(RequestModel):
    issuer_merchant_id: str = Field(pattern=ID_PATTERN, description="The card's issuer.")
    acceptor_merchant_id: str = Field(pattern=ID_PATTERN, description="Where it is redeemed.")
    effective_date: date | None = Field(
        default=None, description="From this business date on (default today; never before)."
    )
    rule: dict[str, Any] = Field(
        description=(
            "Shares of the parties issuer, acceptor and platform (its part goes to the "
            "platform's fee income): percent (a decimal string), fixed "
            "(minor units), cap_percent, cap; remainder (largest_remainder or to_party), "
            "remainder_party, excess_party."
        ),
        examples=[EXAMPLE_RULE],
    )


class SplitRuleOut(ResponseModel):
    object: Literal["split_rule"] = "split_rule"
    id: str
    issuer_merchant_id: str
    acceptor_merchant_id: str
    version: int
    effective_date: date
    rule: dict[str, Any]
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: SplitRuleRow) -> SplitRuleOut:
        return cls(
            id=row.id,
            issuer_merchant_id=row.issuer_merchant_id,
            acceptor_merchant_id=row.acceptor_merchant_id,
            version=row.version,
            effective_date=row.effective_date,
            rule=row.rule,
            created_by=row.created_by,
            created_at=row.created_at,
        )


class SplitRulesOut(ResponseModel):
    object: Literal["list"] = "list"
    data: list[SplitRuleOut]


@router.get("/v1/split_rules", summary="Split rules (分账) between issuers and acceptors")
async def list_split_rules(
    principal: Annotated[Principal, Authorized(Action.CONTRACT_READ)], session: SessionDep
) -> SplitRulesOut:
    rows = await split_rules.list_rules(session, scope_of(principal).merchant())
    return SplitRulesOut(data=[SplitRuleOut.of(row) for row in rows])


@router.put("/v1/split_rules", summary="Write the next split rule of an issuer/acceptor pair")
async def put_split_rule(
    body: SplitRuleIn,
    principal: Annotated[Principal, Authorized(Action.CONTRACT_MANAGE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> SplitRuleOut:
    for merchant_id in (body.issuer_merchant_id, body.acceptor_merchant_id):
        await get_object(session, Merchant, merchant_id, "merchant")
    now = clock.now()
    today = business_date(now, settings.timezone)
    row = await split_rules.set_rule(
        session,
        body.issuer_merchant_id,
        body.acceptor_merchant_id,
        body.rule,
        effective_date=body.effective_date or today,
        today=today,
        actor=principal.actor,
        now=now,
    )
    return SplitRuleOut.of(row)
