"""The purchase rules of the prepaid-card regulation (《单用途商业预付卡管理办法（试行）》),
checked before any payment is asked for (``check_purchase``) and once the channel says how
the payer paid (``check_funding``).

Each refusal is a ``PurchaseRefused`` whose ``code`` names the rule and whose details give
the threshold, so a caller (and the console) can say exactly what to change:

* ``purchase_named_unverified`` — a named card (记名卡) records its holder's verified
  identity: the holder must be verified to ``named_min_kyc_level`` (identity card).
* ``purchase_real_name_required`` — one purchase of anonymous cards of
  ``anonymous_real_name_minor`` (¥10,000) or more needs the buyer's real name.
* ``purchase_bank_transfer_required`` — a unit buying ``unit_bank_transfer_minor``
  (¥5,000) or more at once, a person ``person_bank_transfer_minor`` (¥50,000) or more, or
  one top-up of ``top_up_bank_transfer_minor`` (¥5,000) or more pays by bank transfer,
  not through a cash-like channel.
* ``purchase_credit_card_forbidden`` — no credit card may buy or load a prepaid card.
* ``purchase_splitting_refused`` — ``splitting_count`` (3) or more purchases by one buyer
  on one business day, each just under a threshold (within ``splitting_margin_percent``
  below it), are splitting a purchase (化整为零): refused unless the real name is given.

The rules are on by default; the platform changes them through ``/v1/card_regulation``
(its ``purchase_rules`` section). ``is_enforced = False`` turns them all off.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import BusinessRuleViolation, InvalidRequest, amount_detail
from tongka.events import record_event
from tongka.identity.models import KycLevel
from tongka.identity.service import get_consumer
from tongka.money import Money, format_money
from tongka.sales.models import Order, PurchaseRuleSettings

__all__ = [
    "BuyerKind",
    "PurchaseFacts",
    "PurchaseKind",
    "PurchaseRefused",
    "PurchaseRules",
    "check_funding",
    "check_purchase",
    "get_purchase_rules",
    "set_purchase_rules",
]

RULES_ID = 1
CREDIT_CARD = "credit_card"


class BuyerKind(enum.StrEnum):
    PERSON = "person"
    UNIT = "unit"  # 单位: a company buying for its staff


class PurchaseKind(enum.StrEnum):
    PURCHASE = "purchase"
    TOP_UP = "top_up"


class PurchaseRefused(BusinessRuleViolation):
    """A purchase rule refuses: ``code`` names the rule, details hold its threshold."""

    code = "purchase_refused"


@dataclass(frozen=True)
class PurchaseRules:
    is_enforced: bool = True
    named_min_kyc_level: int = int(KycLevel.ID_CARD)
    anonymous_real_name_minor: int = 1_000_000  # ¥10,000
    unit_bank_transfer_minor: int = 500_000  # ¥5,000
    person_bank_transfer_minor: int = 5_000_000  # ¥50,000
    top_up_bank_transfer_minor: int = 500_000  # ¥5,000
    is_credit_card_forbidden: bool = True
    splitting_count: int = 3
    splitting_margin_percent: int = 10

    def problems(self) -> list[str]:
        """What makes these rules unusable (empty: fine)."""
        found = [
            f"{rule.name} must be positive"
            for rule in fields(self)
            if rule.name.endswith("_minor") and getattr(self, rule.name) <= 0
        ]
        if self.splitting_count < 2:
            found.append("splitting_count must be at least 2")
        if not 0 < self.splitting_margin_percent < 100:
            found.append("splitting_margin_percent must be between 1 and 99")
        if self.named_min_kyc_level not in {int(level) for level in KycLevel}:
            found.append("named_min_kyc_level must be a KYC level (0 to 3)")
        return found


@dataclass(frozen=True)
class PurchaseFacts:
    """What the rules look at. ``buyer_key`` identifies the buyer across orders (the
    consumer's id, the unit's name, a till's own key); ``holder_id`` is who will hold the
    card (a named card's); ``amount_minor`` is the whole order's."""

    buyer_kind: BuyerKind
    buyer_key: str
    holder_id: str | None
    is_real_name_given: bool
    is_named: bool
    kind: PurchaseKind
    amount_minor: int
    currency: str
    channel: str | None
    method: str
    card_count: int = 1


async def _row(session: AsyncSession, now: datetime, *, lock: bool) -> PurchaseRuleSettings:
    statement = select(PurchaseRuleSettings).where(PurchaseRuleSettings.id == RULES_ID)
    if lock:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if row is None:
        row = PurchaseRuleSettings(
            id=RULES_ID, updated_by="system", updated_at=now, **asdict(PurchaseRules())
        )
        session.add(row)
        await session.flush()
    return row


def _rules_of(row: PurchaseRuleSettings) -> PurchaseRules:
    return PurchaseRules(**{rule.name: getattr(row, rule.name) for rule in fields(PurchaseRules)})


async def get_purchase_rules(session: AsyncSession, now: datetime) -> PurchaseRules:
    row = await session.scalar(
        select(PurchaseRuleSettings).where(PurchaseRuleSettings.id == RULES_ID)
    )
    return PurchaseRules() if row is None else _rules_of(row)


async def set_purchase_rules(
    session: AsyncSession, rules: PurchaseRules, *, actor: str, now: datetime
) -> PurchaseRules:
    """The platform changes the rules (recorded as ``purchase_rules.updated``)."""
    problems = rules.problems()
    if problems:
        raise InvalidRequest(
            "These purchase rules cannot be used: " + "; ".join(problems) + ".",
            code="purchase_rules_invalid",
            param="purchase_rules",
            details={"problems": problems},
        )
    row = await _row(session, now, lock=True)
    before = _rules_of(row)
    for name, value in asdict(rules).items():
        setattr(row, name, value)
    row.updated_by, row.updated_at = actor, now
    await record_event(
        session,
        type="purchase_rules.updated",
        object_type="purchase_rules",
        object_id=str(RULES_ID),
        actor=actor,
        now=now,
        data={"before": asdict(before), "after": asdict(rules)},
    )
    return rules


def _refusal(
    rule: str, message: str, facts: PurchaseFacts, *, param: str | None = None, **details: object
) -> PurchaseRefused:
    """The refusal of ``rule``: its message names the rule and the threshold (in words and
    money), its details hold the amounts for whoever shows it."""
    threshold = details.get("threshold")
    if isinstance(threshold, int):
        message = message.replace("{threshold}", format_money(Money(threshold, facts.currency)))
    shown = {
        key: amount_detail(value, facts.currency)
        if key in ("threshold", "amount") and isinstance(value, int)
        else value
        for key, value in details.items()
    }
    return PurchaseRefused(
        f"Purchase rule {rule}: {message}",
        code=f"purchase_{rule}",
        param=param,
        details={"rule": rule, **shown},
    )


def bank_transfer_threshold(facts: PurchaseFacts, rules: PurchaseRules) -> int:
    """The amount from which this purchase must be paid by bank transfer."""
    if facts.kind is PurchaseKind.TOP_UP:
        return rules.top_up_bank_transfer_minor
    if facts.buyer_kind is BuyerKind.UNIT:
        return rules.unit_bank_transfer_minor
    return rules.person_bank_transfer_minor


def thresholds_of(facts: PurchaseFacts, rules: PurchaseRules) -> list[int]:
    """The thresholds a buyer splitting a purchase would stay under."""
    found = [bank_transfer_threshold(facts, rules)]
    if facts.kind is PurchaseKind.PURCHASE and not facts.is_named:
        found.append(rules.anonymous_real_name_minor)
    return found


def is_just_under(amount: int, threshold: int, rules: PurchaseRules) -> bool:
    low = threshold - threshold * rules.splitting_margin_percent // 100
    return low <= amount < threshold


async def check_purchase(
    session: AsyncSession,
    facts: PurchaseFacts,
    *,
    now: datetime,
    business_date: date | None = None,
) -> None:
    """Raise ``PurchaseRefused`` for the first rule this purchase breaks (see the module).

    ``business_date`` is the purchase's business day (splitting counts the buyer's orders
    of that day, this one included); without it the splitting rule is not checked."""
    rules = await get_purchase_rules(session, now)
    if not rules.is_enforced:
        return
    if facts.kind is PurchaseKind.PURCHASE and facts.is_named:
        await _check_named(session, facts, rules)
    if (
        facts.kind is PurchaseKind.PURCHASE
        and not facts.is_named
        and facts.amount_minor >= rules.anonymous_real_name_minor
        and not facts.is_real_name_given
    ):
        raise _refusal(
            "real_name_required",
            "a purchase of anonymous cards of {threshold} or more needs the buyer's real name.",
            facts,
            param="buyer.name",
            threshold=rules.anonymous_real_name_minor,
            amount=facts.amount_minor,
        )
    threshold = bank_transfer_threshold(facts, rules)
    if facts.amount_minor >= threshold and facts.method != "bank_transfer":
        raise _refusal(
            "bank_transfer_required",
            f"from {{threshold}} on, a {facts.buyer_kind.value}'s "
            f"{facts.kind.value.replace('_', '-')} must be paid by bank transfer.",
            facts,
            param="method",
            threshold=threshold,
            amount=facts.amount_minor,
            buyer_kind=facts.buyer_kind.value,
            kind=facts.kind.value,
        )
    if business_date is not None and not facts.is_real_name_given:
        await _check_splitting(session, facts, rules, business_date)


async def _check_named(session: AsyncSession, facts: PurchaseFacts, rules: PurchaseRules) -> None:
    level = 0
    if facts.holder_id is not None:
        level = int((await get_consumer(session, facts.holder_id)).kyc_level)
    if level < rules.named_min_kyc_level:
        raise _refusal(
            "named_unverified",
            "a named card records its holder's verified identity: the holder must be verified "
            f"to KYC level {rules.named_min_kyc_level}, and is at {level}.",
            facts,
            param="holder_id",
            required_kyc=KycLevel(rules.named_min_kyc_level).name.lower(),
            holder_kyc=KycLevel(level).name.lower(),
        )


async def _check_splitting(
    session: AsyncSession, facts: PurchaseFacts, rules: PurchaseRules, day: date
) -> None:
    """This purchase and the buyer's earlier ones of the day, just under one threshold."""
    for threshold in thresholds_of(facts, rules):
        if not is_just_under(facts.amount_minor, threshold, rules):
            continue
        low = threshold - threshold * rules.splitting_margin_percent // 100
        earlier = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(
                Order.buyer_key == facts.buyer_key,
                Order.business_date == day,
                Order.currency == facts.currency,
                Order.amount_minor >= low,
                Order.amount_minor < threshold,
            )
        )
        if int(earlier or 0) + 1 >= rules.splitting_count:
            raise _refusal(
                "splitting_refused",
                f"{int(earlier or 0) + 1} purchases just under {{threshold}} on one business "
                "day look like one purchase split up (化整为零); give the buyer's real name.",
                facts,
                param="buyer.name",
                threshold=threshold,
                amount=facts.amount_minor,
                count=int(earlier or 0) + 1,
                limit=rules.splitting_count,
            )


def check_funding(
    facts: PurchaseFacts,
    funding_type: str | None,
    channel: str | None,
    rules: PurchaseRules | None = None,
) -> None:
    """After the channel reported how the payer paid: no credit card buys or loads a card."""
    rules = rules or PurchaseRules()
    if not rules.is_enforced or not rules.is_credit_card_forbidden:
        return
    if funding_type == CREDIT_CARD:
        raise _refusal(
            "credit_card_forbidden",
            "a prepaid card may not be bought or loaded with a credit card.",
            facts,
            funding_type=funding_type,
            channel=channel,
        )
