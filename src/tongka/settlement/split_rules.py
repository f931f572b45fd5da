"""Split rules (分账) between an issuer and an acceptor, stored per pair and versioned.

A rule divides each cross-issuer redemption an acceptor settles among the parties
``issuer``, ``acceptor`` and ``platform`` (``splits.py`` does the arithmetic): the issuer's
part goes to the issuer's payable, the platform's to its fee income, the acceptor keeps the
rest (``split_postings.py``). One rule is in force per
pair on a day: the latest version that started on or before it. A new version replaces the
pair's rule from its date on (today or later: a batch already built keeps the rule it was
built under); rows are never edited in place.

The JSON a rule is stored as (and the API takes)::

    {"shares": [{"party": "issuer", "percent": "0.7", "fixed": 0, "cap_percent": "0.3",
                 "cap": null}, {"party": "acceptor", "percent": "0.25"},
                {"party": "platform", "percent": "0.05"}],
     "remainder": "largest_remainder", "remainder_party": null, "excess_party": "acceptor"}

Percents are decimal strings (never floats: a rate must be exact).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.ids import new_id
from tongka.settlement.errors import SplitInvalid
from tongka.settlement.models import SplitRuleRow
from tongka.settlement.splits import Remainder, Share, SplitRule, check_rule

PARTIES = ("issuer", "acceptor", "platform")
ISSUER, ACCEPTOR, PLATFORM = PARTIES


def _invalid(problem: str, param: str | None = None) -> SplitInvalid:
    return SplitInvalid(
        f"This split rule cannot divide the amount: {problem}.",
        param=param,
        details={"problem": problem},
    )


def _decimal(value: object, name: str) -> Decimal:
    if not isinstance(value, str):
        raise _invalid(f"{name} is not a decimal string")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _invalid(f"{name} is not a decimal string") from None
    if not number.is_finite():
        raise _invalid(f"{name} is not a decimal string")
    return number


def _minor(value: object, name: str) -> int:
    if type(value) is not int:
        raise _invalid(f"{name} is not a whole number of minor units")
    return value


def _share(raw: Any) -> Share:
    if not isinstance(raw, dict) or raw.get("party") not in PARTIES:
        raise _invalid("a share's party is not issuer, acceptor or platform")
    party = str(raw["party"])
    cap_percent, cap = raw.get("cap_percent"), raw.get("cap")
    return Share(
        party=party,
        percent=_decimal(raw.get("percent", "0"), f"{party}'s percent"),
        fixed=_minor(raw.get("fixed", 0), f"{party}'s fixed part"),
        cap_percent=None if cap_percent is None else _decimal(cap_percent, f"{party}'s cap"),
        cap=None if cap is None else _minor(cap, f"{party}'s cap"),
    )


def _party(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and value not in PARTIES:
        raise _invalid(f"the {key.replace('_', ' ')} is not issuer, acceptor or platform")
    return value


def rule_of_json(raw: Any) -> SplitRule:
    """The rule stored as ``raw``, checked (``SplitInvalid`` names what is wrong)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("shares"), list):
        raise _invalid("the rule has no list of shares")
    try:
        remainder = Remainder(raw.get("remainder", Remainder.LARGEST_REMAINDER))
    except ValueError:
        raise _invalid("the remainder rule is unknown") from None
    rule = SplitRule(
        shares=tuple(_share(share) for share in raw["shares"]),
        remainder=remainder,
        remainder_party=_party(raw, "remainder_party"),
        excess_party=_party(raw, "excess_party"),
    )
    check_rule(rule)
    return rule


def rule_to_json(rule: SplitRule) -> dict[str, Any]:
    return {
        "shares": [
            {
                "party": share.party,
                "percent": str(share.percent),
                "fixed": share.fixed,
                "cap_percent": None if share.cap_percent is None else str(share.cap_percent),
                "cap": share.cap,
            }
            for share in rule.shares
        ],
        "remainder": rule.remainder.value,
        "remainder_party": rule.remainder_party,
        "excess_party": rule.excess_party,
    }


async def set_rule(
    session: AsyncSession,
    issuer_id: str,
    acceptor_id: str,
    raw: Any,
    *,
    effective_date: date,
    today: date,
    actor: str,
    now: datetime,
) -> SplitRuleRow:
    """A new version of the pair's rule from ``effective_date`` (not before ``today``);
    the latest version itself when it is already this rule from this date (a repeated PUT)."""
    if issuer_id == acceptor_id:
        raise _invalid("the issuer and the acceptor are the same merchant", "acceptor_merchant_id")
    if effective_date < today:
        raise _invalid("the effective date is in the past", "effective_date")
    stored = rule_to_json(rule_of_json(raw))
    latest = await session.scalar(
        select(SplitRuleRow)
        .where(
            SplitRuleRow.issuer_merchant_id == issuer_id,
            SplitRuleRow.acceptor_merchant_id == acceptor_id,
        )
        .order_by(SplitRuleRow.version.desc())
        .limit(1)
    )
    if latest is not None and (latest.effective_date, latest.rule) == (effective_date, stored):
        return latest  # the same PUT again: nothing new
    row = SplitRuleRow(
        id=new_id("spr"),
        issuer_merchant_id=issuer_id,
        acceptor_merchant_id=acceptor_id,
        version=(latest.version if latest else 0) + 1,
        effective_date=effective_date,
        rule=stored,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def rule_on(
    session: AsyncSession, issuer_id: str, acceptor_id: str, day: date
) -> SplitRule | None:
    """The pair's rule in force on ``day``, or ``None`` (nothing is split)."""
    row = await session.scalar(
        select(SplitRuleRow)
        .where(
            SplitRuleRow.issuer_merchant_id == issuer_id,
            SplitRuleRow.acceptor_merchant_id == acceptor_id,
            SplitRuleRow.effective_date <= day,
        )
        .order_by(SplitRuleRow.effective_date.desc(), SplitRuleRow.version.desc())
        .limit(1)
    )
    return None if row is None else rule_of_json(row.rule)


async def list_rules(session: AsyncSession, merchant_id: str | None) -> list[SplitRuleRow]:
    """Every version (the platform), or those where ``merchant_id`` is a party."""
    statement = select(SplitRuleRow).order_by(
        SplitRuleRow.issuer_merchant_id, SplitRuleRow.acceptor_merchant_id, SplitRuleRow.version
    )
    if merchant_id is not None:
        statement = statement.where(
            or_(
                SplitRuleRow.issuer_merchant_id == merchant_id,
                SplitRuleRow.acceptor_merchant_id == merchant_id,
            )
        )
    return list((await session.scalars(statement.limit(1000))).all())
