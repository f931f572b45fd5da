"""Applying split rules (分账) when an acceptor's settlement batch is built.

For each cross-issuer line of the batch (a redemption or a refund whose ``reference`` is a
redemption of a card another merchant issued) with a rule in force for (issuer, acceptor)
on the batch's date, the issuer's part of the line's amount moves from the acceptor's
payable to the issuer's payable, in two legs through a transit account that is always
left empty (``platform:split_clearing:<cur>``):

- ``split:<line transfer id>``: acceptor payable → transit: a ``split`` line of this batch
  (signed: − for a redemption, + for a refund), so the batch's net stays its lines' sum;
- ``split:<line transfer id>:issuer``: transit → issuer payable: a ``split`` line of the
  issuer's next batch, found like any movement on its payable.

Two legs because a ledger transfer is on at most one settlement line (the uniqueness that
keeps runs safe). Both are posted as one group with ids derived from the line's transfer,
and only by the run that claimed the batch, so a re-run moves nothing. A line smaller than
the rule's fixed parts is not split (nothing can be divided).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.cards.models import Card
from tongka.ledger import AccountSpec, AccountType
from tongka.ledger import TransferRequest as Request
from tongka.redemption.fees import merchant_payable_account
from tongka.redemption.models import Redemption
from tongka.settlement.errors import SplitInvalid
from tongka.settlement.models import SettlementBatch, SettlementLine
from tongka.settlement.split_rules import ISSUER, rule_on
from tongka.settlement.splits import SplitRule, split

SPLIT_CODE = "settlement_split"
SPLIT_KINDS = ("redemption", "refund")
TRANSIT_CODE = "split_clearing"


def transit_account_id(currency: str) -> str:
    return f"platform:split_clearing:{currency}"


async def _transit_account(session: AsyncSession, currency: str, now: datetime) -> str:
    account_id = transit_account_id(currency)
    await ledger.open_account(
        session,
        AccountSpec(
            account_id=account_id, currency=currency, type=AccountType.LIABILITY, code=TRANSIT_CODE
        ),
        now=now,
    )
    return account_id


async def _issuers(session: AsyncSession, redemption_ids: set[str]) -> dict[str, str]:
    """Each redemption's card issuer."""
    if not redemption_ids:
        return {}
    rows = await session.execute(
        select(Redemption.id, Card.merchant_id)
        .join(Card, Card.id == Redemption.card_id)
        .where(Redemption.id.in_(redemption_ids))
    )
    return {row[0]: row[1] for row in rows.all()}


async def _rules(
    session: AsyncSession, issuers: set[str], acceptor_id: str, day: date
) -> dict[str, SplitRule]:
    found = {}
    for issuer_id in sorted(issuers):
        rule = await rule_on(session, issuer_id, acceptor_id, day)
        if rule is not None:
            found[issuer_id] = rule
    return found


def issuer_part(amount: int, rule: SplitRule) -> int:
    """The issuer's part of a line's signed ``amount`` (same sign), 0 if it cannot split."""
    try:
        part = split(abs(amount), rule).get(ISSUER, 0)
    except SplitInvalid:
        return 0
    return part if amount >= 0 else -part


async def split_lines(
    session: AsyncSession,
    batch: SettlementBatch,
    payable: str,
    lines: list[SettlementLine],
    now: datetime,
) -> list[SettlementLine]:
    """The ``split`` lines of ``batch`` (its movement ``lines`` given), their legs posted."""
    candidates = [
        line
        for line in lines
        if line.kind in SPLIT_KINDS and line.reference and line.transfer_id and line.amount
    ]
    issuers = await _issuers(session, {str(line.reference) for line in candidates})
    cross = [
        line
        for line in candidates
        if issuers.get(str(line.reference), batch.merchant_id) != batch.merchant_id
    ]
    rules = await _rules(
        session,
        {issuers[str(line.reference)] for line in cross},
        batch.merchant_id,
        batch.business_date,
    )
    added = []
    for line in cross:
        issuer_id = issuers[str(line.reference)]
        rule = rules.get(issuer_id)
        part = issuer_part(line.amount, rule) if rule is not None else 0
        if part:
            added.append(await _post_split(session, batch, payable, issuer_id, line, part, now))
    return added


async def _post_split(
    session: AsyncSession,
    batch: SettlementBatch,
    payable: str,
    issuer_id: str,
    line: SettlementLine,
    part: int,
    now: datetime,
) -> SettlementLine:
    """Move ``part`` (signed like the line) from the acceptor's payable to the issuer's."""
    transit = await _transit_account(session, batch.currency, now)
    issuer_payable = await merchant_payable_account(session, issuer_id, batch.currency, now=now)
    leg_id = f"split:{line.transfer_id}"
    if part > 0:
        sides = [(leg_id, payable, transit), (f"{leg_id}:issuer", transit, issuer_payable)]
    else:
        sides = [(leg_id, transit, payable), (f"{leg_id}:issuer", issuer_payable, transit)]
    legs = [
        Request(
            transfer_id=transfer_id,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=abs(part),
            currency=batch.currency,
            code=SPLIT_CODE,
            reference=line.reference,
        )
        for transfer_id, debit, credit in sides
    ]
    posted = await ledger.post_transfers(session, legs, now=now)
    return SettlementLine(
        batch_id=batch.id,
        kind="split",
        transfer_id=leg_id,
        source_id=None,
        code=SPLIT_CODE,
        reference=line.reference,
        amount=-part,
        fee=0,
        occurred_at=posted[0].created_at,
    )
