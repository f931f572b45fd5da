"""The SMS second factor: above the threshold a challenge is texted; the right code once
allows; three wrong codes lock it; it expires after 5 minutes (injected clock)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.controls_support import context, product_with_limits, usage
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.models import Consumer, SandboxSmsMessage
from tongka.redemption.decision import (
    Decision,
    DecisionRun,
    Outcome,
    Reason,
    RedemptionContext,
    Verdict,
    decide,
    default_rules,
)

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


async def _decide(
    database: Database, ctx: RedemptionContext, settings: Settings, now: datetime = NOW, **kw
) -> Decision:  # type: ignore[no-untyped-def]
    async with database.transaction() as session:
        return await decide(session, ctx, now=now, settings=settings, **kw)


async def _texted_code(database: Database, holder_id: str) -> str:
    async with database.transaction() as session:
        phone = (await session.get(Consumer, holder_id)).phone  # type: ignore[union-attr]
        body = (
            (
                await session.execute(
                    select(SandboxSmsMessage.body)
                    .where(SandboxSmsMessage.phone == phone)
                    .order_by(SandboxSmsMessage.created_at.desc(), SandboxSmsMessage.id.desc())
                )
            )
            .scalars()
            .first()
        )
    assert body is not None
    match = re.search(r"确认码 (\d{6})", body)
    assert match is not None
    return match.group(1)


async def test_above_threshold_challenges_then_right_code_allows_once(
    database: Database, settings: Settings
) -> None:
    product_id, holder = await product_with_limits(
        database, NOW, challenge_threshold_minor=50_000, card_daily_count=5
    )
    at_threshold = await _decide(database, context(product_id, 50_000, holder_id=holder), settings)
    ctx = context(product_id, 50_001, holder_id=holder)

    asked = await _decide(database, ctx, settings)
    code = await _texted_code(database, holder)
    confirmed = await _decide(
        database, replace(ctx, challenge_id=asked.challenge_id, challenge_code=code), settings
    )
    again = await _decide(
        database, replace(ctx, challenge_id=asked.challenge_id, challenge_code=code), settings
    )

    assert at_threshold.outcome is Outcome.ALLOW
    assert asked.outcome is Outcome.CHALLENGE
    assert asked.decline_code == "challenge_required"
    assert asked.challenge_expires_at == NOW + timedelta(minutes=5)
    assert confirmed.outcome is Outcome.ALLOW
    assert confirmed.verified_challenge_id == asked.challenge_id
    assert again.decline_code == "challenge_invalid"
    # the challenge and the refused retry reserved nothing: two allowed uses
    assert await usage(database, "card", "crd_test_1") == (2, 100_001)


async def test_three_wrong_codes_lock(database: Database, settings: Settings) -> None:
    product_id, holder = await product_with_limits(database, NOW, challenge_threshold_minor=0)
    ctx = context(product_id, 100, holder_id=holder)
    asked = await _decide(database, ctx, settings)
    code = await _texted_code(database, holder)
    wrong = "000000" if code != "000000" else "111111"

    answers = [
        await _decide(
            database, replace(ctx, challenge_id=asked.challenge_id, challenge_code=guess), settings
        )
        for guess in (wrong, wrong, wrong, code)
    ]

    assert [a.decline_code for a in answers] == [
        "challenge_failed",
        "challenge_failed",
        "challenge_locked",
        "challenge_locked",
    ]
    assert answers[0].reasons[-1].details == {"attempts_left": 2}


async def test_code_expires_after_five_minutes(database: Database, settings: Settings) -> None:
    product_id, holder = await product_with_limits(database, NOW, challenge_threshold_minor=0)
    ctx = context(product_id, 100, holder_id=holder)
    asked = await _decide(database, ctx, settings)
    code = await _texted_code(database, holder)
    retry = replace(ctx, challenge_id=asked.challenge_id, challenge_code=code)

    late = await _decide(database, retry, settings, now=NOW + timedelta(minutes=5))
    just_in_time = await _decide(
        database, retry, settings, now=NOW + timedelta(minutes=5) - timedelta(seconds=1)
    )

    assert late.decline_code == "challenge_expired"
    assert just_in_time.is_allowed


async def test_challenge_is_bound_to_the_redemption(database: Database, settings: Settings) -> None:
    product_id, holder = await product_with_limits(database, NOW, challenge_threshold_minor=0)
    ctx = context(product_id, 100, holder_id=holder)
    asked = await _decide(database, ctx, settings)
    code = await _texted_code(database, holder)

    other_amount = replace(
        ctx, amount_minor=99, challenge_id=asked.challenge_id, challenge_code=code
    )
    assert (await _decide(database, other_amount, settings)).decline_code == "challenge_invalid"


async def test_no_holder_phone_declines(database: Database, settings: Settings) -> None:
    product_id, _ = await product_with_limits(database, NOW, challenge_threshold_minor=0)
    answer = await _decide(database, context(product_id, 100), settings)
    assert answer.decline_code == "challenge_unavailable"


class _NewDeviceRule:
    """A rule (as the risk engine's will) asking for the holder's confirmation."""

    name = "new_device"

    async def apply(self, run: DecisionRun) -> Verdict | None:
        if run.context.via_payment_code:
            return None
        return Verdict(Outcome.CHALLENGE, Reason("new_device", self.name))


async def test_any_rule_may_ask_for_a_challenge(database: Database, settings: Settings) -> None:
    product_id, holder = await product_with_limits(database, NOW)
    rules = [*default_rules(), _NewDeviceRule()]
    answer = await _decide(
        database, context(product_id, 100, holder_id=holder), settings, rules=rules
    )
    assert answer.outcome is Outcome.CHALLENGE
    assert [reason.code for reason in answer.reasons] == ["new_device", "challenge_required"]
