"""``/v1/net_positions``: what merchants owe each other for one business day (清算净额)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from tongka.api.cards.common import money
from tongka.api.errors import ERROR_RESPONSES
from tongka.edge.deps import SessionDep, UnitOfWorkRoute
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ResponseModel
from tongka.identity.principal import Principal
from tongka.money import MoneyModel
from tongka.policy import Action, scope_of
from tongka.settlement.net_positions import NetPosition, net_positions

router = APIRouter(tags=["settlement"], route_class=UnitOfWorkRoute, responses=ERROR_RESPONSES)


class NetPositionOut(ResponseModel):
    object: Literal["net_position"] = "net_position"
    business_date: date
    debtor_merchant_id: str
    creditor_merchant_id: str
    gross: MoneyModel
    offset: MoneyModel
    net: MoneyModel
    redemptions: int

    @classmethod
    def of(cls, position: NetPosition) -> NetPositionOut:
        c = position.currency
        return cls(
            business_date=position.business_date,
            debtor_merchant_id=position.debtor_id,
            creditor_merchant_id=position.creditor_id,
            gross=money(position.gross, c),
            offset=money(position.offset, c),
            net=money(position.net, c),
            redemptions=position.redemptions,
        )


class NetPositionsOut(ResponseModel):
    object: Literal["list"] = "list"
    data: list[NetPositionOut]


@router.get(
    "/v1/net_positions",
    summary="Net positions between merchants for one business day",
    description=(
        "Per pair of merchants: what the creditor took of the debtor's cards (gross, after "
        "refunds, less fees), what the debtor took of the creditor's (offset), and the net "
        "the debtor owes. A merchant sees only the pairs it is part of."
    ),
)
async def list_net_positions(
    principal: Annotated[Principal, Authorized(Action.SETTLEMENT_READ)],
    session: SessionDep,
    business_date: Annotated[date, Query(description="The business date (platform time zone).")],
) -> NetPositionsOut:
    shown = scope_of(principal).merchant()
    positions = await net_positions(session, business_date, merchant_id=shown)
    return NetPositionsOut(data=[NetPositionOut.of(position) for position in positions])
