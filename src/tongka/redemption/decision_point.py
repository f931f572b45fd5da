"""How redemption calls the one decision point (``redemption.decision``, the ``controls``
part: limits first, the second factor, the risk engine later).

Called for each card inside the redemption's transaction, with the card locked. An
``allow`` reserves the use (limits); when the purchase then declines for another reason
(insufficient funds, another card of the purchase), ``release`` gives it back. Without the
``controls`` module (an older build) everything is allowed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date, datetime
from types import ModuleType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.config import Settings


@dataclass(frozen=True)
class DecisionRequest:
    """The core's request object; ``decision.as_context`` reads it by attribute."""

    merchant_id: str
    store_id: str | None
    terminal_id: str | None
    card_id: str
    product_id: str
    issuer_merchant_id: str
    holder_id: str | None
    amount: int
    currency: str
    kind: str  # redemption | authorization
    via_payment_code: bool = False
    challenge_id: str | None = None
    challenge_code: str | None = None
    # None: ``now``'s business date; a void or reversal passes its original's
    business_date: date | None = None


@dataclass(frozen=True)
class DecisionAnswer:
    outcome: str  # allow | challenge | decline
    code: str | None = None  # limit_exceeded, challenge_required ... when not allowed
    reasons: list[str] = field(default_factory=list)
    challenge_id: str | None = None


ALLOW = DecisionAnswer("allow")


def _controls() -> ModuleType | None:
    try:
        return importlib.import_module("tongka.redemption.decision")
    except ModuleNotFoundError:
        return None


async def decide(
    session: AsyncSession, request: DecisionRequest, *, now: datetime, settings: Settings | None
) -> DecisionAnswer:
    """The decision for one card's part of a purchase; ``ALLOW`` without ``controls``."""
    controls = _controls()
    if controls is None:
        return ALLOW
    answer: Any = await controls.decide(session, request, now=now, settings=settings)
    outcome = str(answer.outcome)
    if outcome == "allow":
        return ALLOW
    code = getattr(answer, "code", None) or (
        "challenge_required" if outcome == "challenge" else "limit_exceeded"
    )
    reasons = [str(getattr(r, "code", r)) for r in getattr(answer, "reasons", ()) or ()]
    return DecisionAnswer(outcome, str(code), reasons, getattr(answer, "challenge_id", None))


async def release(
    session: AsyncSession, request: DecisionRequest, *, now: datetime, settings: Settings | None
) -> None:
    """Give back the use an ``allow`` reserved (the purchase declined after all, a hold
    voided or reversed)."""
    controls = _controls()
    if controls is not None:
        await controls.release(session, request, now=now, settings=settings)
