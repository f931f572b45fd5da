"""The deposit ratio of single-purpose issuers (预收资金存管).

The regulation of single-purpose cards asks an issuer to keep a share of its prepaid
balance deposited: 20 % for a 规模发卡企业 (scale), 30 % for a 集团发卡企业 (group), 40 % for
a 品牌发卡企业 (brand), of the balance its cards held at the end of the previous quarter.
The platform records each issuer's class; an issuer without one is not under the rule.

What the platform holds for an issuer is customer money it would pay out to it: the
balances of the issuer's cards (in the reserve until spent), what it owes the issuer (its
payable, negative when the issuer kept cash from a till sale) and its rolling reserve. A
payout takes from that; one that would leave less than the quarter's requirement is
refused (``deposit_ratio``): the batch carries, like a held payout, until the issuer's
figures allow it again or the next quarter's requirement is lower.

The requirement of a quarter is taken once — the first time it is asked for in that
quarter (the daily job asks at the start of every day) — from the prepaid balance at that
moment, which is the previous quarter's closing balance when the job runs on the first day.
An issuer classed in the middle of a quarter gets its requirement from the balance at that
time: the best figure the platform has.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.models import Card
from tongka.clock import business_date
from tongka.db.statements import dialect_of
from tongka.events import record_event
from tongka.ledger import AccountCode
from tongka.ledger.models import LedgerAccount, LedgerBalance
from tongka.money import Money, Rounding
from tongka.redemption.fees import merchant_payable_id
from tongka.settlement.deposit_models import DepositDay, DepositRequirement, IssuerClass

__all__ = ["IssuerClass"]  # the row type, for callers of set_issuer_class
from tongka.settlement.errors import InvalidIssuerClass


class IssuerKind(enum.StrEnum):
    SCALE = "scale"  # 规模发卡企业
    GROUP = "group"  # 集团发卡企业
    BRAND = "brand"  # 品牌发卡企业


RATIO_BP = {IssuerKind.SCALE: 2_000, IssuerKind.GROUP: 3_000, IssuerKind.BRAND: 4_000}
RULE = "deposit_ratio"


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class DepositFigures:
    """An issuer's position against its quarter's requirement, in minor units."""

    merchant_id: str
    currency: str
    quarter: str
    issuer_class: str
    ratio_bp: int
    prepaid_balance_at_start: int
    required: int
    held: int
    prepaid_balance: int

    @property
    def is_met(self) -> bool:
        return self.held >= self.required

    @property
    def held_bp(self) -> int | None:
        """What is held, in basis points of the quarter's opening balance (None: it was 0)."""
        if self.prepaid_balance_at_start <= 0:
            return None
        return self.held * 10_000 // self.prepaid_balance_at_start

    def allows_payout(self, amount: int) -> bool:
        return self.held - amount >= self.required


async def set_issuer_class(
    session: AsyncSession, merchant_id: str, issuer_class: str, *, actor: str, now: datetime
) -> IssuerClass:
    try:
        kind = IssuerKind(issuer_class)
    except ValueError:
        raise InvalidIssuerClass(
            "The issuer class is scale (规模), group (集团) or brand (品牌).",
            param="issuer_class",
        ) from None
    row = await session.get(IssuerClass, merchant_id, with_for_update=True)
    if row is None:
        row = IssuerClass(merchant_id=merchant_id)
        session.add(row)
    row.issuer_class, row.set_by, row.set_at = kind.value, actor, now
    await session.flush()
    await record_event(
        session,
        type="merchant.issuer_class_set",
        object_type="merchant",
        object_id=merchant_id,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"issuer_class": kind.value, "ratio_bp": RATIO_BP[kind]},
    )
    return row


def _posted(debits: int | None, credits: int | None) -> int:
    return int(credits or 0) - int(debits or 0)  # liabilities: credit-normal


async def prepaid_balance(session: AsyncSession, merchant_id: str, currency: str) -> int:
    """What the issuer's cards hold now (paid and bonus parts), in one query."""
    row = (
        await session.execute(
            select(func.sum(LedgerBalance.debits_posted), func.sum(LedgerBalance.credits_posted))
            .join(LedgerAccount, LedgerAccount.id == LedgerBalance.account_id)
            .join(Card, Card.id == LedgerAccount.owner_id)
            .where(
                LedgerAccount.owner_type == "card",
                LedgerAccount.code.in_((AccountCode.CARD.value, AccountCode.CARD_BONUS.value)),
                LedgerAccount.currency == currency,
                Card.merchant_id == merchant_id,
            )
        )
    ).one()
    return _posted(row[0], row[1])


async def _owed_to(session: AsyncSession, merchant_id: str, currency: str) -> int:
    """The issuer's payable and rolling reserve: owed to it, still held by the platform."""
    from tongka.settlement.runs import merchant_reserve_id

    ids = [merchant_payable_id(merchant_id, currency), merchant_reserve_id(merchant_id, currency)]
    row = (
        await session.execute(
            select(
                func.sum(LedgerBalance.debits_posted), func.sum(LedgerBalance.credits_posted)
            ).where(LedgerBalance.account_id.in_(ids))
        )
    ).one()
    return _posted(row[0], row[1])


def _required(balance: int, ratio_bp: int, currency: str) -> int:
    if balance <= 0:
        return 0
    rate = Decimal(ratio_bp) / 10_000
    share = Money.of_minor(balance, currency).apply_rate(rate, rounding=Rounding.UP)
    return share.minor_units


async def requirement(
    session: AsyncSession, merchant_id: str, currency: str, *, now: datetime, timezone: str
) -> DepositRequirement | None:
    """The quarter's requirement of a classed issuer (taken now if not yet); None: no class."""
    issuer = await session.get(IssuerClass, merchant_id)
    if issuer is None:
        return None
    quarter = quarter_of(business_date(now, timezone))
    key = {"merchant_id": merchant_id, "currency": currency, "quarter": quarter}
    found = await session.get(DepositRequirement, key)
    if found is not None:
        return found
    ratio = RATIO_BP[IssuerKind(issuer.issuer_class)]
    balance = await prepaid_balance(session, merchant_id, currency)
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    await session.execute(
        dialect.insert(DepositRequirement.__table__)
        .values(
            **key,
            issuer_class=issuer.issuer_class,
            ratio_bp=ratio,
            prepaid_balance=balance,
            required=_required(balance, ratio, currency),
            taken_at=now,
        )
        .on_conflict_do_nothing()
    )
    return await session.get(DepositRequirement, key, populate_existing=True)


async def deposit_figures(
    session: AsyncSession, merchant_id: str, currency: str, *, now: datetime, timezone: str
) -> DepositFigures | None:
    """Where a classed issuer stands now; None for an issuer without a class."""
    needed = await requirement(session, merchant_id, currency, now=now, timezone=timezone)
    if needed is None:
        return None
    balance = await prepaid_balance(session, merchant_id, currency)
    return DepositFigures(
        merchant_id=merchant_id,
        currency=currency,
        quarter=needed.quarter,
        issuer_class=needed.issuer_class,
        ratio_bp=needed.ratio_bp,
        prepaid_balance_at_start=needed.prepaid_balance,
        required=needed.required,
        held=balance + await _owed_to(session, merchant_id, currency),
        prepaid_balance=balance,
    )


async def payout_refusal(
    session: AsyncSession,
    merchant_id: str,
    currency: str,
    amount: int,
    *,
    now: datetime,
    timezone: str,
) -> DepositFigures | None:
    """The issuer's figures when paying ``amount`` would break its ratio, else None."""
    figures = await deposit_figures(session, merchant_id, currency, now=now, timezone=timezone)
    if figures is None or figures.allows_payout(amount):
        return None
    return figures


async def classed_issuers(session: AsyncSession) -> list[IssuerClass]:
    return list(
        (await session.scalars(select(IssuerClass).order_by(IssuerClass.merchant_id))).all()
    )


async def record_days(
    session: AsyncSession, *, now: datetime, timezone: str, currency: str = "CNY"
) -> int:
    """Today's figures of every classed issuer (once a day; later runs change nothing)."""
    day = business_date(now, timezone)
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    written = 0
    for issuer in await classed_issuers(session):
        figures = await deposit_figures(
            session, issuer.merchant_id, currency, now=now, timezone=timezone
        )
        assert figures is not None
        result = await session.execute(
            dialect.insert(DepositDay.__table__)
            .values(
                merchant_id=issuer.merchant_id,
                currency=currency,
                business_date=day,
                held=figures.held,
                required=figures.required,
                prepaid_balance=figures.prepaid_balance,
            )
            .on_conflict_do_nothing()
        )
        written += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return written


async def deposit_history(
    session: AsyncSession, *, since: date, currency: str = "CNY"
) -> list[DepositDay]:
    return list(
        (
            await session.scalars(
                select(DepositDay)
                .where(DepositDay.business_date >= since, DepositDay.currency == currency)
                .order_by(DepositDay.business_date, DepositDay.merchant_id)
            )
        ).all()
    )
