"""Net positions between merchants (清算净额) per business day.

When a card issued by A is redeemed at B (a 多用途 card), B's settlement batch of that day
holds the movement: B is owed the value less fees, and A's prepaid liability shrank by the
value. Between each pair of merchants the day's movements net: what B took of A's cards
against what A took of B's. The report reads the settlement lines — each names its
redemption in ``reference`` — so it agrees with the batches the merchants are paid from, and
a late movement counts on the day of the batch that holds it, like the payout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.models import Card
from tongka.redemption.models import Redemption
from tongka.settlement.models import SettlementBatch, SettlementLine

CLEARED_KINDS = ("redemption", "refund", "split")  # split: the issuer's part, handed back


@dataclass(frozen=True)
class Flow:
    """What ``acceptor`` is owed for ``issuer``'s cards on one day (after refunds, less fees)."""

    issuer_id: str
    acceptor_id: str
    currency: str
    amount: int
    redemptions: int


@dataclass(frozen=True)
class NetPosition:
    """Between two merchants on one day: ``debtor`` owes ``creditor`` ``net`` (≥ 0).

    ``gross`` is what the creditor took of the debtor's cards, ``offset`` what the debtor
    took of the creditor's."""

    business_date: date
    debtor_id: str
    creditor_id: str
    currency: str
    gross: int
    offset: int
    redemptions: int

    @property
    def net(self) -> int:
        return self.gross - self.offset


async def flows(
    session: AsyncSession, business_date: date, *, merchant_id: str | None = None
) -> list[Flow]:
    """The day's movements of one issuer's cards at another merchant, per pair and currency."""
    issuer = Card.merchant_id
    acceptor = SettlementBatch.merchant_id
    statement = (
        select(
            issuer,
            acceptor,
            SettlementBatch.currency,
            func.sum(SettlementLine.amount),
            func.count(func.distinct(Redemption.id)),
        )
        .join(SettlementBatch, SettlementBatch.id == SettlementLine.batch_id)
        .join(Redemption, Redemption.id == SettlementLine.reference)
        .join(Card, Card.id == Redemption.card_id)
        .where(
            SettlementBatch.business_date == business_date,
            SettlementLine.kind.in_(CLEARED_KINDS),
            issuer != acceptor,
        )
        .group_by(issuer, acceptor, SettlementBatch.currency)
    )
    if merchant_id is not None:
        statement = statement.where(or_(issuer == merchant_id, acceptor == merchant_id))
    rows = (await session.execute(statement)).all()
    return [Flow(row[0], row[1], row[2], int(row[3] or 0), int(row[4])) for row in rows]


def net(business_date: date, day_flows: list[Flow]) -> list[NetPosition]:
    """Each pair's flows both ways netted to one position, the debtor the side that owes."""
    taken = {(f.issuer_id, f.acceptor_id, f.currency): f for f in day_flows}
    positions = []
    for issuer_id, acceptor_id, currency in sorted(taken):
        there = taken[(issuer_id, acceptor_id, currency)]
        back = taken.get((acceptor_id, issuer_id, currency))
        back_amount = back.amount if back else 0
        if back is not None and (there.amount, issuer_id) < (back_amount, acceptor_id):
            continue  # the pair is reported once, from the side that owes
        positions.append(
            NetPosition(
                business_date=business_date,
                debtor_id=issuer_id,
                creditor_id=acceptor_id,
                currency=currency,
                gross=there.amount,
                offset=back_amount,
                redemptions=there.redemptions + (back.redemptions if back else 0),
            )
        )
    return positions


async def net_positions(
    session: AsyncSession, business_date: date, *, merchant_id: str | None = None
) -> list[NetPosition]:
    """The day's net positions (only pairs including ``merchant_id`` when given)."""
    return net(business_date, await flows(session, business_date, merchant_id=merchant_id))
