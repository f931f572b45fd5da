"""Redemption limits: per transaction, per card per day (count and amount), per card per
terminal per day (count), per terminal per day (count and amount).

The daily limits are counters in ``redemption_usage``, reserved by one conditional upsert
per limited scope in the redemption's transaction (so a rollback undoes them, and two
concurrent redemptions can never both pass the last unit of a limit). A scope with no
limit keeps no counter (no round trip on the hot path): a limit set during the day counts
from then on. A breach is declined ``limit_exceeded`` and recorded in
``redemption_limit_breaches``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tongka.db.statements import AnyUnitOfWork, execute_count, fetch_one
from tongka.errors import amount_detail
from tongka.ids import new_id
from tongka.redemption.control_statements import (
    INSERT_BREACH,
    RELEASE_USAGE,
    RESERVE_USAGE,
)
from tongka.redemption.decision import (
    DecisionRun,
    Outcome,
    ProductLimits,
    Reason,
    RedemptionContext,
    Verdict,
)

LIMIT_EXCEEDED = "limit_exceeded"
# "No limit" on one of a scope's two measures while the other is limited.
_UNLIMITED_AMOUNT = 2**62
_UNLIMITED_COUNT = 2**31 - 1


@dataclass(frozen=True)
class UsageScope:
    scope: str
    subject: str
    count_limit_name: str
    amount_limit_name: str | None
    max_count: int | None
    max_amount_minor: int | None

    @property
    def is_limited(self) -> bool:
        return self.max_count is not None or self.max_amount_minor is not None


def usage_scopes(context: RedemptionContext, limits: ProductLimits) -> list[UsageScope]:
    """The scopes of a redemption, in the fixed order their rows are locked."""
    scopes = [
        UsageScope(
            "card",
            context.card_id,
            "card_daily_count",
            "card_daily_amount_minor",
            limits.card_daily_count,
            limits.card_daily_amount_minor,
        )
    ]
    if context.terminal_id is not None:
        scopes.append(
            UsageScope(
                "card_terminal",
                f"{context.card_id}:{context.terminal_id}",
                "card_terminal_daily_count",
                None,
                limits.card_terminal_daily_count,
                None,
            )
        )
        scopes.append(
            UsageScope(
                "terminal",
                context.terminal_id,
                "terminal_daily_count",
                "terminal_daily_amount_minor",
                limits.terminal_daily_count,
                limits.terminal_daily_amount_minor,
            )
        )
    return scopes


async def record_breach(run: DecisionRun, limit_name: str, limit_value: int) -> Verdict:
    """Record the breach (in the caller's transaction) and answer ``limit_exceeded``."""
    context = run.context
    await execute_count(
        run.unit,
        INSERT_BREACH,
        {
            "id": new_id("rlb"),
            "card_id": context.card_id,
            "product_id": context.product_id,
            "merchant_id": context.merchant_id,
            "store_id": context.store_id,
            "terminal_id": context.terminal_id,
            "limit_name": limit_name,
            "limit_value": limit_value,
            "amount_minor": context.amount_minor,
            "currency": context.currency,
            "business_date": context.business_date,
            "now": run.now,
        },
    )
    is_amount = limit_name.endswith("_minor")
    details = {
        "limit": limit_name,
        "limit_value": amount_detail(limit_value, context.currency) if is_amount else limit_value,
        "amount": amount_detail(context.amount_minor, context.currency),
    }
    return Verdict(Outcome.DECLINE, Reason(LIMIT_EXCEEDED, "limits", details), LIMIT_EXCEEDED)


class PerTransactionRule:
    """One redemption may not exceed the product's per-transaction maximum."""

    name = "per_transaction_limit"

    async def apply(self, run: DecisionRun) -> Verdict | None:
        maximum = (await run.limits()).per_transaction_max_minor
        if maximum is not None and run.context.amount_minor > maximum:
            return await record_breach(run, "per_transaction_max_minor", maximum)
        return None


class DailyUsageRule:
    """Reserve this use in every limited scope of the day, or decline naming the limit."""

    name = "daily_usage_limits"

    async def apply(self, run: DecisionRun) -> Verdict | None:
        context = run.context
        for scope in usage_scopes(context, await run.limits()):
            if not scope.is_limited:
                continue
            max_count = scope.max_count if scope.max_count is not None else _UNLIMITED_COUNT
            max_amount = (
                scope.max_amount_minor if scope.max_amount_minor is not None else _UNLIMITED_AMOUNT
            )
            # the first use of a day inserts unchecked by SQL: check it here
            row = None
            if context.amount_minor <= max_amount and max_count >= 1:
                row = await fetch_one(
                    run.unit,
                    RESERVE_USAGE,
                    {
                        "scope": scope.scope,
                        "subject": scope.subject,
                        "business_date": context.business_date,
                        "currency": context.currency,
                        "amount": context.amount_minor,
                        "max_count": max_count,
                        "max_amount": max_amount,
                    },
                )
            if row is None:
                await release_reserved(run)
                return await _breach_of(run, scope)
            run.reserved.append((scope.scope, scope.subject))
        return None


async def _breach_of(run: DecisionRun, scope: UsageScope) -> Verdict:
    """Which of the scope's limits this use breaks (the amount one, when both would)."""
    from tongka.redemption.control_statements import READ_USAGE

    row = await fetch_one(
        run.unit,
        READ_USAGE,
        {
            "scope": scope.scope,
            "subject": scope.subject,
            "business_date": run.context.business_date,
        },
    )
    used_count, used_amount = (row[0], row[1]) if row is not None else (0, 0)
    if (
        scope.amount_limit_name is not None
        and scope.max_amount_minor is not None
        and used_amount + run.context.amount_minor > scope.max_amount_minor
    ):
        return await record_breach(run, scope.amount_limit_name, scope.max_amount_minor)
    del used_count  # the count limit is the other one the use broke
    return await record_breach(run, scope.count_limit_name, scope.max_count or 0)


async def _release(
    unit: AnyUnitOfWork, context: RedemptionContext, scope: str, subject: str
) -> None:
    await execute_count(
        unit,
        RELEASE_USAGE,
        {
            "scope": scope,
            "subject": subject,
            "business_date": context.business_date,
            "amount": context.amount_minor,
        },
    )


async def release_reserved(run: DecisionRun) -> None:
    """Undo what this run reserved (a later rule said no)."""
    while run.reserved:
        scope, subject = run.reserved.pop()
        await _release(run.unit, run.context, scope, subject)


async def release_all(unit: AnyUnitOfWork, context: RedemptionContext) -> None:
    """Undo one use of ``context`` in every scope that keeps a counter for its day."""
    for scope in usage_scopes(context, ProductLimits()):
        await _release(unit, context, scope.scope, scope.subject)
