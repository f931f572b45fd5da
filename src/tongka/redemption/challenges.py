"""The second factor: the holder confirms a redemption with a 6-digit code texted to them.

A rule that wants confirmation answers ``Outcome.CHALLENGE`` with its reason; the decision
point then either accepts the context's ``challenge_id`` + ``challenge_code`` (a pending
challenge for this card, merchant and amount, unexpired, right code: spent at once) or
creates a challenge and texts its code. Codes live 5 minutes, allow 3 wrong tries (then
the challenge is locked), and are kept only as an HMAC bound to the challenge's id.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.config import Settings
from tongka.crypto import derive_key, keyed_hash
from tongka.db.statements import AnyUnitOfWork, execute_count, fetch_one
from tongka.errors import ServiceUnavailable, amount_detail
from tongka.identity.sms import SandboxSmsSender, mask_phone, sms_sender_for
from tongka.ids import new_id
from tongka.redemption.control_statements import (
    COUNT_WRONG_CODE,
    HOLDER_PHONE,
    INSERT_CHALLENGE,
    INSERT_SANDBOX_SMS,
    READ_CHALLENGE,
    USE_CHALLENGE,
)
from tongka.redemption.decision import Decision, DecisionRun, Outcome, Reason, Verdict

CHALLENGE_CODE_LENGTH = 6
CHALLENGE_LIFETIME = timedelta(minutes=5)
MAX_CHALLENGE_ATTEMPTS = 3

CHALLENGE_REQUIRED = "challenge_required"
CHALLENGE_FAILED = "challenge_failed"  # wrong code, tries left
CHALLENGE_LOCKED = "challenge_locked"  # too many wrong codes
CHALLENGE_EXPIRED = "challenge_expired"
CHALLENGE_INVALID = "challenge_invalid"  # unknown, used, or for another redemption
CHALLENGE_UNAVAILABLE = "challenge_unavailable"  # no holder phone to text

ABOVE_THRESHOLD = "above_challenge_threshold"


@lru_cache(maxsize=8)
def _challenge_key(root: bytes) -> bytes:
    return derive_key(root, "redemption-challenge-code")


def code_hash(settings: Settings, challenge_id: str, code: str) -> str:
    return keyed_hash(
        _challenge_key(settings.secret_key_bytes()), f"redemption_challenge:{challenge_id}:{code}"
    )


def challenge_message(amount: str, code: str) -> str:
    return (
        f"【通卡】您正在消费 {amount}，确认码 {code}，5 分钟内有效，请告知收银员。"
        "如非本人操作请勿告诉他人。"
    )


class ChallengeThresholdRule:
    """Above the product's threshold, the holder confirms."""

    name = "challenge_threshold"

    async def apply(self, run: DecisionRun) -> Verdict | None:
        threshold = (await run.limits()).challenge_threshold_minor
        if threshold is None or run.context.amount_minor <= threshold:
            return None
        details = {"threshold": amount_detail(threshold, run.context.currency)}
        return Verdict(Outcome.CHALLENGE, Reason(ABOVE_THRESHOLD, self.name, details))


async def _send(
    unit: AnyUnitOfWork, settings: Settings, phone: str, body: str, now: datetime
) -> None:
    """Text the code in the caller's transaction: the sandbox outbox by a plain insert on
    any unit; a registered gateway needs an ORM session."""
    sender = sms_sender_for(settings)
    if isinstance(sender, SandboxSmsSender):
        await execute_count(
            unit,
            INSERT_SANDBOX_SMS,
            {"id": new_id("sms"), "phone": phone, "body": body, "now": now},
        )
    elif isinstance(unit, AsyncSession):
        await sender.send(unit, phone=phone, body=body, now=now)
    else:
        raise ServiceUnavailable(
            "The SMS gateway needs an ORM session; this unit of work cannot text a code.",
            code="sms_not_configured",
        )


async def _create(run: DecisionRun, reasons: tuple[Reason, ...]) -> Decision:
    context = run.context
    phone_row = (
        await fetch_one(run.unit, HOLDER_PHONE, {"holder_id": context.holder_id})
        if context.holder_id is not None
        else None
    )
    if phone_row is None:
        reason = Reason(CHALLENGE_UNAVAILABLE, "challenge", {})
        return Decision(Outcome.DECLINE, (*reasons, reason), decline_code=CHALLENGE_UNAVAILABLE)
    phone = phone_row[0]
    challenge_id = new_id("rch")
    code = f"{secrets.randbelow(10**CHALLENGE_CODE_LENGTH):0{CHALLENGE_CODE_LENGTH}d}"
    expires_at = run.now + CHALLENGE_LIFETIME
    await execute_count(
        run.unit,
        INSERT_CHALLENGE,
        {
            "id": challenge_id,
            "card_id": context.card_id,
            "merchant_id": context.merchant_id,
            "terminal_id": context.terminal_id,
            "amount_minor": context.amount_minor,
            "currency": context.currency,
            "reason": reasons[0].code,
            "phone": phone,
            "code_hash": code_hash(run.settings, challenge_id, code),
            "now": run.now,
            "expires_at": expires_at,
        },
    )
    amount = f"{context.currency} {context.amount_minor / 100:.2f}"  # display only
    await _send(run.unit, run.settings, phone, challenge_message(amount, code), run.now)
    details = {"phone": mask_phone(phone), "expires_at": expires_at}
    return Decision(
        Outcome.CHALLENGE,
        (*reasons, Reason(CHALLENGE_REQUIRED, "challenge", details)),
        decline_code=CHALLENGE_REQUIRED,
        challenge_id=challenge_id,
        challenge_expires_at=expires_at,
    )


async def _verify(run: DecisionRun, reasons: tuple[Reason, ...]) -> Decision:
    context = run.context
    assert context.challenge_id is not None
    challenge_id = context.challenge_id
    code = (context.challenge_code or "").strip()
    used = await fetch_one(
        run.unit,
        USE_CHALLENGE,
        {
            "id": challenge_id,
            "now": run.now,
            "card_id": context.card_id,
            "merchant_id": context.merchant_id,
            "amount_minor": context.amount_minor,
            "currency": context.currency,
            "code_hash": code_hash(run.settings, challenge_id, code),
        },
    )
    if used is not None:
        return Decision(Outcome.ALLOW, reasons, verified_challenge_id=challenge_id)
    row = await fetch_one(run.unit, READ_CHALLENGE, {"id": challenge_id})

    def declined(failure: str, **details: object) -> Decision:
        reason = Reason(failure, "challenge", dict(details))
        return Decision(Outcome.DECLINE, (*reasons, reason), decline_code=failure)

    if row is None or (row[3], row[4], row[5], row[6]) != (
        context.card_id,
        context.merchant_id,
        context.amount_minor,
        context.currency,
    ):
        return declined(CHALLENGE_INVALID)
    status, expires_at = row[0], ensure_utc(row[1])
    if status == "locked":
        return declined(CHALLENGE_LOCKED)
    if status != "pending":
        return declined(CHALLENGE_INVALID)
    if expires_at <= run.now:
        return declined(CHALLENGE_EXPIRED)
    counted = await fetch_one(
        run.unit, COUNT_WRONG_CODE, {"id": challenge_id, "max_attempts": MAX_CHALLENGE_ATTEMPTS}
    )
    if counted is None or counted[1] == "locked":
        return declined(CHALLENGE_LOCKED)
    return declined(CHALLENGE_FAILED, attempts_left=MAX_CHALLENGE_ATTEMPTS - counted[0])


async def answer_challenge(run: DecisionRun, reasons: tuple[Reason, ...]) -> Decision:
    """Rules asked for the holder's confirmation: check the one given, or ask for one."""
    if run.context.challenge_id:
        return await _verify(run, reasons)
    return await _create(run, reasons)
