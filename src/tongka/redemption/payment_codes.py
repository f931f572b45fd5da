"""Payment codes (付款码): what a signed-in holder shows at the till instead of the card.

A code names one card of its holder, lives ``PAYMENT_CODE_LIFETIME`` (the consumer page
fetches a new one every 60 seconds; a new code ends the card's previous ones), and works
once. It is 18 digits like the wallets' codes, with our own prefix ``88`` so a till can
tell it from a WeChat (10–15) or Alipay (25–30) code. Only its SHA-256 is stored. Unkeyed
on purpose, so a till's process needs no secret to look a code up: 16 random digits (53
bits) that live 60 seconds cannot be found from a database dump within their lifetime
(unlike a 6-digit SMS code, which ``challenges.py`` keeps as a keyed HMAC).

``resolve_payment_code`` spends the code with one conditional ``UPDATE ... WHERE used_at
IS NULL AND expires_at > now`` (two tills scanning the same code: exactly one gets the
card), on any unit of work, inside the redemption's transaction: a redemption that rolls
back leaves its code unspent (still only until it expires). A *declined* redemption
commits (its answer is recorded), so its caller calls ``give_back_payment_code`` in that
same transaction: "works once" means one approved redemption, and a decline (not enough
on the card, a limit, the holder's confirmation asked for) must not make the holder fetch
a new code. The row lock the spend took is held until that commit, so a second till
scanning the same code meanwhile waits and then gets the card (or, after an approval,
``payment_code_used``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.lifecycle import get_card
from tongka.db.base import UTCDateTime
from tongka.db.statements import AnyUnitOfWork, DriverStatement, execute_count, fetch_one
from tongka.errors import BusinessRuleViolation
from tongka.redemption.control_models import PaymentCode

PAYMENT_CODE_LIFETIME = timedelta(seconds=60)
PAYMENT_CODE_PREFIX = "88"
PAYMENT_CODE_LENGTH = 18
USABLE_CARD_STATUSES = ("active",)

_NOW = bindparam("now", type_=UTCDateTime())
_SPEND = DriverStatement(
    text(
        "UPDATE redemption_payment_codes SET used_at = :now"
        " WHERE code_hash = :code_hash AND used_at IS NULL AND expires_at > :now"
        " RETURNING card_id"
    ).bindparams(_NOW)
)
_GIVE_BACK = DriverStatement(
    text(
        "UPDATE redemption_payment_codes SET used_at = NULL"
        " WHERE code_hash = :code_hash AND used_at IS NOT NULL"
    )
)
_READ = DriverStatement(
    text("SELECT used_at FROM redemption_payment_codes WHERE code_hash = :code_hash")
)


class PaymentCodeRefused(BusinessRuleViolation):
    """A code that names no card now: ``payment_code_unknown``, ``payment_code_used`` or
    ``payment_code_expired``."""

    code = "payment_code_unknown"


class PaymentCodeCardUnusable(BusinessRuleViolation):
    code = "payment_code_card_unusable"


@dataclass(frozen=True)
class IssuedPaymentCode:
    code: str
    card_id: str
    expires_at: datetime


def _hash(code: str) -> str:
    return hashlib.sha256(f"tongka:payment_code:{code}".encode()).hexdigest()


def is_payment_code(value: str) -> bool:
    """Whether a scanned value has a payment code's shape (a till's first test)."""
    return (
        len(value) == PAYMENT_CODE_LENGTH
        and value.isdigit()
        and value.startswith(PAYMENT_CODE_PREFIX)
    )


async def issue_payment_code(
    session: AsyncSession, holder_id: str, card_id: str, *, now: datetime
) -> IssuedPaymentCode:
    """A fresh code for the holder's own usable card; the card's earlier codes end now.
    Another holder's card is not found (the same answer as no card at all)."""
    card = await get_card(session, card_id, holder_id=holder_id)
    if card.status not in USABLE_CARD_STATUSES:
        raise PaymentCodeCardUnusable(
            "This card cannot pay now (it is not active).",
            param="card_id",
            details={"status": card.status},
        )
    await session.execute(
        update(PaymentCode)
        .where(
            PaymentCode.card_id == card.id,
            PaymentCode.used_at.is_(None),
            PaymentCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    digits = PAYMENT_CODE_LENGTH - len(PAYMENT_CODE_PREFIX)
    code = f"{PAYMENT_CODE_PREFIX}{secrets.randbelow(10**digits):0{digits}d}"
    expires_at = now + PAYMENT_CODE_LIFETIME
    session.add(
        PaymentCode(
            code_hash=_hash(code),
            card_id=card.id,
            holder_id=holder_id,
            created_at=now,
            expires_at=expires_at,
            used_at=None,
        )
    )
    await session.flush()
    return IssuedPaymentCode(code=code, card_id=card.id, expires_at=expires_at)


async def resolve_payment_code(unit: AnyUnitOfWork, code: str, *, now: datetime) -> str:
    """The card the code names, spending the code; refused (coded) if used, expired or
    unknown. The caller still checks the card itself (status, acceptance) at the gate."""
    code = code.strip()
    if not is_payment_code(code):
        raise PaymentCodeRefused("This is not a Tongka payment code.", param="payment_code")
    code_hash = _hash(code)
    spent = await fetch_one(unit, _SPEND, {"code_hash": code_hash, "now": now})
    if spent is not None:
        return str(spent[0])
    row = await fetch_one(unit, _READ, {"code_hash": code_hash})
    if row is None:
        raise PaymentCodeRefused("No such payment code.", param="payment_code")
    if row[0] is not None:
        raise PaymentCodeRefused(
            "This payment code was already used; ask for a new one.",
            code="payment_code_used",
            param="payment_code",
        )
    raise PaymentCodeRefused(
        "This payment code has expired; ask the holder to refresh it.",
        code="payment_code_expired",
        param="payment_code",
    )


async def give_back_payment_code(unit: AnyUnitOfWork, code: str) -> None:
    """Unspend a code this transaction spent for a redemption that then declined (see the
    module); it still expires at its own time. A malformed code was never spent."""
    code = code.strip()
    if is_payment_code(code):
        await execute_count(unit, _GIVE_BACK, {"code_hash": _hash(code)})
