"""Applying split rules (分账) when an acceptor's settlement batch is built.

For each cross-issuer line of the batch (a redemption or a refund whose ``reference`` is a
redemption of a card another merchant issued) with a rule in force for (issuer, acceptor)
on the batch's date, the issuer's and the platform's parts of the line's amount leave the
acceptor's payable (the acceptor keeps the rest):

- ``split:<line transfer id>``: acceptor payable → transit (``platform:split_clearing:<cur>``,
  always left empty): a ``split`` line of this batch (signed: − for a redemption, + for a
  refund), so the batch's net stays its lines' sum;
- ``split:<line transfer id>:issuer``: transit → issuer payable: a ``split`` line of the
  issuer's next batch, found like any movement on its payable;
- ``split:<line transfer id>:platform``: acceptor payable → the platform's fee income
  (``platform:fee_income:<cur>``, code ``settlement_split_platform``): a second ``split``
  line of this batch. Fee income is the platform's own money, still inside the reserve until
  it is transferred to the operating account (三分离); it is owed to no one, so the cover
  check counts it on neither side, and the platform is no party of net positions.

The issuer's part goes through transit because a ledger transfer is on at most one
settlement line (the uniqueness that keeps runs safe) and both payables are settled; the
platform's part is on the acceptor's payable only. All legs of a line are posted as one
group with ids derived from the line's transfer, and only by the run that claimed the
batch, so a re-run moves nothing. A line smaller than the rule's fixed parts is not split
(nothing can be divided).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.cards.models import Card
from tongka.ledger import AccountSpec, AccountType
from tongka.ledger import TransferRequest as Request
from tongka.redemption.fees import fee_income_account, merchant_payable_account
from tongka.redemption.models import Redemption
from tongka.settlement.errors import SplitInvalid
from tongka.settlement.models import SettlementBatch, SettlementLine
from tongka.settlement.split_rules import ISSUER, PLATFORM, rule_on
from tongka.settlement.splits import SplitRule, split

SPLIT_CODE = "settlement_split"
PLATFORM_SPLIT_CODE = "settlement_split_platform"
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


def parts_of(amount: int, rule: SplitRule) -> tuple[int, int]:
    """The issuer's and the platform's parts of a line's signed ``amount`` (same sign);
    ``(0, 0)`` if the rule cannot divide it."""
    try:
        parts = split(abs(amount), rule)
    except SplitInvalid:
        return 0, 0
    sign = 1 if amount >= 0 else -1
    return sign * parts.get(ISSUER, 0), sign * parts.get(PLATFORM, 0)


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
        if rule is not None:
            legs = _Legs(batch, payable, line, *parts_of(line.amount, rule))
            added += await _post_split(session, legs, issuer_id, now)
    return added


@dataclass(frozen=True)
class _Legs:
    """What one line's split moves: ``issuer`` and ``platform`` signed like the line."""

    batch: SettlementBatch
    payable: str
    line: SettlementLine
    issuer: int
    platform: int

    def leg(self, suffix: str, source: str, target: str, part: int, code: str) -> Request:
        """Move a signed ``part`` from ``source`` to ``target`` (back when negative)."""
        debit, credit = (source, target) if part > 0 else (target, source)
        return Request(
            transfer_id=f"split:{self.line.transfer_id}{suffix}",
            debit_account_id=debit,
            credit_account_id=credit,
            amount=abs(part),
            currency=self.batch.currency,
            code=code,
            reference=self.line.reference,
        )


async def _post_split(
    session: AsyncSession, legs: _Legs, issuer_id: str, now: datetime
) -> list[SettlementLine]:
    """Post the line's legs as one group; the batch's ``split`` lines (on its payable)."""
    currency, requests, on_payable = legs.batch.currency, [], []
    if legs.issuer:
        transit = await _transit_account(session, currency, now)
        issuer_payable = await merchant_payable_account(session, issuer_id, currency, now=now)
        requests += [
            legs.leg("", legs.payable, transit, legs.issuer, SPLIT_CODE),
            legs.leg(":issuer", transit, issuer_payable, legs.issuer, SPLIT_CODE),
        ]
        on_payable.append((requests[0], legs.issuer))
    if legs.platform:
        income = await fee_income_account(session, currency, now=now)
        requests.append(
            legs.leg(":platform", legs.payable, income, legs.platform, PLATFORM_SPLIT_CODE)
        )
        on_payable.append((requests[-1], legs.platform))
    if not requests:
        return []
    posted = {t.transfer_id: t for t in await ledger.post_transfers(session, requests, now=now)}
    return [
        SettlementLine(
            batch_id=legs.batch.id,
            kind="split",
            transfer_id=request.transfer_id,
            source_id=None,
            code=request.code,
            reference=legs.line.reference,
            amount=-part,
            fee=0,
            occurred_at=posted[request.transfer_id].created_at,
        )
        for request, part in on_payable
    ]
