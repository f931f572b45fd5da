"""The one decision point of a redemption: allow, challenge or decline, with reasons.

Contract (the redemption core calls this; the risk engine will add rules to it later):

* ``await decide(unit, context, *, now, settings)`` runs INSIDE the redemption's own
  transaction, on any unit of work (``AsyncSession``, Core ``AsyncConnection`` or an
  asyncpg ``DriverConnection``); it never commits. Call it after the card is identified
  (card, product, holder known) and before the ledger posting.
* It runs ``DEFAULT_RULES`` in order: the per-transaction limit, the daily usage limits
  (which RESERVE the use: a conditional upsert per limited scope, exact under concurrency),
  then the challenge threshold. A rule passes, declines, or asks for a challenge.
* ``Decision.outcome``:
  - ``allow``: the use is reserved in this transaction. If the caller then declines for
    its own reason (insufficient funds...) in the same transaction, call
    ``release(unit, context)`` — or roll the transaction back. A later void or reversal
    of the redemption also calls ``release`` (same context, same business date) to give
    the day's use back; refunds do NOT release (the redemption happened).
  - ``decline``: ``decline_code`` is the answer's code (``limit_exceeded``,
    ``challenge_failed``, ``challenge_locked``, ``challenge_expired``,
    ``challenge_invalid``, ``challenge_unavailable``); nothing is reserved.
  - ``challenge``: ``decline_code == "challenge_required"`` and ``challenge_id`` names
    the challenge whose 6-digit code was texted to the holder; nothing is reserved. The
    cashier retries the same redemption with ``challenge_id`` and ``challenge_code`` in
    the context; a right code (once, within 5 minutes, 3 tries) lets the rules' challenge
    requests pass.
* The caller COMMITS a decline or challenge (they write what was decided: a breach
  record, a challenge, a wrong-code count); it rolls back only on an error.
* In a coalesced batch, call ``decide`` for the batch's redemptions in a fixed order (by
  card id) so two batches never take the usage rows' locks in opposite orders.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from tongka.clock import business_date
from tongka.config import Settings, get_settings
from tongka.db.statements import AnyUnitOfWork, fetch_all, fetch_one


class Outcome(enum.StrEnum):
    ALLOW = "allow"
    CHALLENGE = "challenge"
    DECLINE = "decline"


@dataclass(frozen=True)
class RedemptionContext:
    """What a rule may look at. ``merchant_id`` is the accepting merchant,
    ``issuer_merchant_id`` the product's. ``business_date`` defaults to ``now``'s date in
    the platform zone; pass the original's when releasing a past redemption."""

    card_id: str
    product_id: str
    merchant_id: str
    store_id: str | None
    terminal_id: str | None
    amount_minor: int
    currency: str
    issuer_merchant_id: str | None = None
    holder_id: str | None = None
    business_date: date | None = None
    via_payment_code: bool = False
    challenge_id: str | None = None
    challenge_code: str | None = None

    def on(self, now: datetime, settings: Settings) -> RedemptionContext:
        """This context with its business date filled in."""
        if self.business_date is not None:
            return self
        return dataclasses.replace(self, business_date=business_date(now, settings.timezone))


@dataclass(frozen=True)
class Reason:
    """Why a rule declined or asked: a stable ``code`` and the figures (``details``)."""

    code: str
    rule: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """A rule's answer when it does not simply pass."""

    outcome: Outcome
    reason: Reason
    decline_code: str | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...] = ()
    decline_code: str | None = None
    challenge_id: str | None = None
    challenge_expires_at: datetime | None = None
    verified_challenge_id: str | None = None

    @property
    def is_allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def code(self) -> str | None:
        """The answer's code (``decline_code``), under the name the core reads."""
        return self.decline_code


@dataclass(frozen=True)
class ProductLimits:
    """The limits in force for one product: each the product's value capped by the
    platform's bound (``None``: no limit)."""

    per_transaction_max_minor: int | None = None
    card_daily_count: int | None = None
    card_daily_amount_minor: int | None = None
    card_terminal_daily_count: int | None = None
    terminal_daily_count: int | None = None
    terminal_daily_amount_minor: int | None = None
    challenge_threshold_minor: int | None = None


class DecisionRun:
    """One ``decide`` call's state, handed to each rule: the unit, the context, the clock,
    the limits (read once) and the uses reserved so far (undone if the answer is no)."""

    def __init__(
        self, unit: AnyUnitOfWork, context: RedemptionContext, now: datetime, settings: Settings
    ) -> None:
        self.unit = unit
        self.context = context
        self.now = now
        self.settings = settings
        self.reserved: list[tuple[str, str]] = []  # (scope, subject)
        self._limits: ProductLimits | None = None

    async def limits(self) -> ProductLimits:
        if self._limits is None:
            self._limits = await load_limits(self.unit, self.context)
        return self._limits


class Rule(Protocol):
    """A rule of the decision point: ``None`` passes; a ``Verdict`` declines or asks."""

    name: str

    async def apply(self, run: DecisionRun) -> Verdict | None: ...


def _capped(bound: int | None, value: int | None) -> int | None:
    if bound is None:
        return value
    if value is None:
        return bound
    return min(bound, value)


async def load_limits(unit: AnyUnitOfWork, context: RedemptionContext) -> ProductLimits:
    """The product's limits within the bounds of its currency (one round trip)."""
    from tongka.redemption.control_statements import LIMIT_COLUMNS, LOAD_LIMITS

    row = await fetch_one(
        unit, LOAD_LIMITS, {"currency": context.currency, "product_id": context.product_id}
    )
    count = len(LIMIT_COLUMNS)
    return _limits_of(row[:count], row[count : 2 * count], row[2 * count])


def _limits_of(
    bounds: Sequence[Any], limits: Sequence[Any], threshold: int | None
) -> ProductLimits:
    """The product's ``limits`` within its currency's ``bounds`` (values in ``LIMIT_COLUMNS``
    order; ``None``: none set)."""
    from tongka.redemption.control_statements import LIMIT_COLUMNS

    values = {
        name: _capped(bounds[index], limits[index]) for index, name in enumerate(LIMIT_COLUMNS)
    }
    return ProductLimits(**values, challenge_threshold_minor=threshold)


async def allowed_without_rules(
    unit: AnyUnitOfWork, contexts: Sequence[RedemptionContext]
) -> list[bool]:
    """For each context, whether ``decide`` would surely ``allow`` it without writing a
    thing: no limit of its product (within its currency's bounds) applies and its amount
    is at most the challenge threshold. Two statements for all of them (PostgreSQL): the
    redemption lane asks this of a whole batch, and sends the others — whose answer needs
    the rules to run, reserving uses or recording a breach — to ``decide`` by the usual
    path. When rules are added here (the risk engine), this answer must consult them."""
    from tongka.redemption.control_statements import (
        LIMIT_COLUMNS,
        LOAD_BOUNDS_MANY,
        LOAD_PRODUCT_LIMITS_MANY,
    )

    if not contexts:
        return []
    currencies = sorted({context.currency for context in contexts})
    products = sorted({context.product_id for context in contexts})
    bounds = {
        row[0]: row[1:]
        for row in await fetch_all(unit, LOAD_BOUNDS_MANY, {"currencies": currencies})
    }
    limits = {
        row[0]: row[1:]
        for row in await fetch_all(unit, LOAD_PRODUCT_LIMITS_MANY, {"product_ids": products})
    }
    none = (None,) * len(LIMIT_COLUMNS)
    answers = []
    for context in contexts:
        product = limits.get(context.product_id, (*none, None))
        found = _limits_of(bounds.get(context.currency, none), product[:-1], product[-1])
        threshold = found.challenge_threshold_minor
        answers.append(
            all(getattr(found, name) is None for name in LIMIT_COLUMNS)
            and (threshold is None or context.amount_minor <= threshold)
        )
    return answers


def as_context(request: Any) -> RedemptionContext:
    """A ``RedemptionContext`` from the core's duck-typed request (``amount`` in minor
    units, optional ``challenge_id`` / ``challenge_code`` / ``via_payment_code``)."""
    if isinstance(request, RedemptionContext):
        return request
    return RedemptionContext(
        card_id=request.card_id,
        product_id=request.product_id,
        merchant_id=request.merchant_id,
        store_id=request.store_id,
        terminal_id=request.terminal_id,
        amount_minor=int(request.amount),
        currency=request.currency,
        issuer_merchant_id=getattr(request, "issuer_merchant_id", None),
        holder_id=getattr(request, "holder_id", None),
        business_date=getattr(request, "business_date", None),
        via_payment_code=bool(getattr(request, "via_payment_code", False)),
        challenge_id=getattr(request, "challenge_id", None),
        challenge_code=getattr(request, "challenge_code", None),
    )


def default_rules() -> Sequence[Rule]:
    from tongka.redemption.challenges import ChallengeThresholdRule
    from tongka.redemption.limits import DailyUsageRule, PerTransactionRule

    return (PerTransactionRule(), DailyUsageRule(), ChallengeThresholdRule())


async def decide(
    unit: AnyUnitOfWork,
    context: RedemptionContext | Any,
    *,
    now: datetime,
    settings: Settings | None = None,
    rules: Sequence[Rule] | None = None,
) -> Decision:
    """Run the rules in order and answer (see the module's contract). ``context`` may be
    the core's request object (see ``as_context``); ``settings`` default to the process's."""
    from tongka.redemption.challenges import answer_challenge
    from tongka.redemption.limits import release_reserved

    settings = settings if settings is not None else get_settings()
    run = DecisionRun(unit, as_context(context).on(now, settings), now, settings)
    asked: list[Reason] = []
    for rule in default_rules() if rules is None else rules:
        verdict = await rule.apply(run)
        if verdict is None:
            continue
        if verdict.outcome is Outcome.DECLINE:
            await release_reserved(run)
            return Decision(
                Outcome.DECLINE, (*asked, verdict.reason), decline_code=verdict.decline_code
            )
        if verdict.outcome is Outcome.CHALLENGE:
            asked.append(verdict.reason)
    if not asked:
        return Decision(Outcome.ALLOW)
    decision = await answer_challenge(run, tuple(asked))
    if not decision.is_allowed:
        await release_reserved(run)
    return decision


async def release(
    unit: AnyUnitOfWork,
    context: RedemptionContext | Any,
    *,
    now: datetime,
    settings: Settings | None = None,
) -> None:
    """Give back one use of ``context`` (amount and count) in every scope of its business
    date: after a later decline in the same transaction, or a void or reversal."""
    from tongka.redemption.limits import release_all

    settings = settings if settings is not None else get_settings()
    await release_all(unit, as_context(context).on(now, settings))
