"""The return rules of the prepaid-card regulation (退卡), checked before a card's value
leaves it (``check_return``) and, for the amount, under the card gate's lock.

A card returned under the regulation pays out to a bank account in the holder's own name,
cash only for small amounts. Each refusal is a ``ReturnRefused`` whose ``code`` names the
rule and whose message and details give the threshold:

* ``return_card_not_named`` — only a named card (记名卡), bound to its holder, is returned
  (``is_named_only``): an anonymous card has nobody whose account it could pay.
* ``return_holder_unverified`` — the holder's name is verified (KYC level 2, identity
  card, with the name on it) before money leaves for an account in that name.
* ``return_account_name_mismatch`` — the bank account is in the holder's own name: its
  name is the holder's verified name (spaces aside).
* ``return_cash_over_limit`` — cash only for ``cash_max_minor`` (¥100) or less; more goes
  to a bank account.
* ``return_cash_at_till`` — cash is paid by a merchant at its till, never asked for by the
  holder alone.
* ``return_nothing_to_pay`` — the card holds no paid value (bonus alone is never paid).

On by default; the platform changes them through ``/v1/card_regulation`` (its
``return_rules`` section). ``is_enforced = False`` turns off the named-card, verified-name
and cash-limit rules; the cash-at-till and nothing-to-pay rules always hold.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import BusinessRuleViolation, InvalidRequest, amount_detail
from tongka.events import record_event
from tongka.money import Money, format_money
from tongka.sales.return_models import ReturnRuleSettings

__all__ = [
    "ReturnFacts",
    "ReturnMethod",
    "ReturnRefused",
    "ReturnRules",
    "check_amount",
    "check_return",
    "get_return_rules",
    "set_return_rules",
]

RULES_ID = 1


class ReturnMethod(enum.StrEnum):
    BANK_ACCOUNT = "bank_account"
    CASH = "cash"


class ReturnRefused(BusinessRuleViolation):
    """A return rule refuses: ``code`` names the rule, details hold its threshold."""

    code = "return_refused"


@dataclass(frozen=True)
class ReturnRules:
    is_enforced: bool = True
    cash_max_minor: int = 10_000  # ¥100
    is_named_only: bool = True

    def problems(self) -> list[str]:
        if not 0 <= self.cash_max_minor <= 10**12:
            return ["cash_max_minor is 0 to 10^12 minor units"]
        return []


@dataclass(frozen=True)
class ReturnFacts:
    method: ReturnMethod
    currency: str
    is_named: bool
    has_holder: bool
    holder_verified_name: str | None
    account_name: str | None
    is_at_till: bool  # a merchant's caller (its till or console) asks


def _refused(rule: str, message: str, currency: str, **details: object) -> ReturnRefused:
    threshold = details.get("threshold")
    if isinstance(threshold, int):
        message = message.replace("{threshold}", format_money(Money(threshold, currency)))
    shown = {
        key: amount_detail(value, currency)
        if key in ("threshold", "amount") and isinstance(value, int)
        else value
        for key, value in details.items()
    }
    return ReturnRefused(message, code=f"return_{rule}", details={"rule": rule, **shown})


def _same_name(left: str, right: str) -> bool:
    return "".join(left.split()).casefold() == "".join(right.split()).casefold()


def check_return(facts: ReturnFacts, rules: ReturnRules) -> None:
    """The rules that need no balance (see the module); raises the first refusal."""
    if facts.method is ReturnMethod.CASH and not facts.is_at_till:
        raise _refused(
            "cash_at_till",
            "Cash is paid by the merchant at its till; ask for a bank account payout instead.",
            facts.currency,
        )
    if not rules.is_enforced:
        return
    if rules.is_named_only and not (facts.is_named and facts.has_holder):
        raise _refused(
            "card_not_named",
            "Only a named card bound to its holder is returned under the regulation.",
            facts.currency,
        )
    if facts.method is ReturnMethod.BANK_ACCOUNT:
        if not facts.holder_verified_name:
            raise _refused(
                "holder_unverified",
                "The holder's name is verified (identity card, KYC level 2) before a return "
                "pays out to an account in that name.",
                facts.currency,
                required_kyc="id_card",
            )
        if not facts.account_name or not _same_name(facts.account_name, facts.holder_verified_name):
            raise _refused(
                "account_name_mismatch",
                "A returned card pays out only to a bank account in the holder's own name; "
                "the account name differs from the holder's verified name.",
                facts.currency,
            )


def check_amount(facts: ReturnFacts, rules: ReturnRules, paid_minor: int) -> None:
    """The rules on the paid value, read under the card gate's lock."""
    if paid_minor <= 0:
        raise _refused(
            "nothing_to_pay",
            "The card holds no paid value to return (a bonus is never paid out).",
            facts.currency,
            amount=paid_minor,
        )
    if (
        facts.method is ReturnMethod.CASH
        and rules.is_enforced
        and paid_minor > rules.cash_max_minor
    ):
        raise _refused(
            "cash_over_limit",
            "Cash is paid only for {threshold} or less; this card's paid value goes to a "
            "bank account in the holder's name.",
            facts.currency,
            threshold=rules.cash_max_minor,
            amount=paid_minor,
        )


def _rules_of(row: ReturnRuleSettings) -> ReturnRules:
    return ReturnRules(
        is_enforced=row.is_enforced,
        cash_max_minor=row.cash_max_minor,
        is_named_only=row.is_named_only,
    )


async def get_return_rules(session: AsyncSession) -> ReturnRules:
    row = await session.scalar(select(ReturnRuleSettings).where(ReturnRuleSettings.id == RULES_ID))
    return ReturnRules() if row is None else _rules_of(row)


async def set_return_rules(
    session: AsyncSession, rules: ReturnRules, *, actor: str, now: datetime
) -> ReturnRules:
    """The platform changes the rules (recorded as ``return_rules.updated``)."""
    problems = rules.problems()
    if problems:
        raise InvalidRequest(
            "These return rules cannot be used: " + "; ".join(problems) + ".",
            code="return_rules_invalid",
            param="return_rules",
            details={"problems": problems},
        )
    row = await session.get(ReturnRuleSettings, RULES_ID, with_for_update=True)
    before = ReturnRules() if row is None else _rules_of(row)
    if row is None:
        row = ReturnRuleSettings(id=RULES_ID, updated_by=actor, updated_at=now)
        session.add(row)
    for name, value in asdict(rules).items():
        setattr(row, name, value)
    row.updated_by, row.updated_at = actor, now
    await session.flush()
    await record_event(
        session,
        type="return_rules.updated",
        object_type="return_rules",
        object_id=str(RULES_ID),
        actor=actor,
        now=now,
        data={"before": asdict(before), "after": asdict(rules)},
    )
    return rules
