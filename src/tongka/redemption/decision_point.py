"""How redemption calls the one decision point (``redemption.decision``, built by the
``controls`` part: limits first, the risk engine later).

Until that module exists this falls back to a default that allows everything, so the
call site — inside the redemption's transaction, with the card locked — is already the
final one. The request and answer are kept small and duck-typed on purpose.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class DecisionRequest:
    merchant_id: str
    store_id: str | None
    terminal_id: str | None
    card_id: str
    product_id: str
    holder_id: str | None
    amount: int
    currency: str
    kind: str  # redemption | authorization


@dataclass(frozen=True)
class DecisionAnswer:
    outcome: str  # allow | challenge | decline
    code: str | None = None  # limit_exceeded, challenge_required ... when not allowed
    reasons: list[str] = field(default_factory=list)


ALLOW = DecisionAnswer("allow")


def _controls_decide() -> Any:
    try:
        module = importlib.import_module("tongka.redemption.decision")
    except ModuleNotFoundError:
        return None
    return getattr(module, "decide", None)


async def decide(
    session: AsyncSession, request: DecisionRequest, *, now: datetime
) -> DecisionAnswer:
    """The decision for one card's part of a purchase; ``ALLOW`` without ``controls``."""
    controls = _controls_decide()
    if controls is None:
        return ALLOW
    answer = await controls(session, request, now=now)
    outcome = str(getattr(answer, "outcome", "allow"))
    if outcome == "allow":
        return ALLOW
    code = getattr(answer, "code", None) or (
        "challenge_required" if outcome == "challenge" else "limit_exceeded"
    )
    reasons = [str(reason) for reason in getattr(answer, "reasons", []) or []]
    return DecisionAnswer(outcome, str(code), reasons)
