"""A purchase's request and answer, shared by ``service`` and its helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from tongka.redemption.decision_point import DecisionRequest
from tongka.redemption.models import Redemption

if TYPE_CHECKING:
    from tongka.redemption.records import RecordRow

DEFAULT_HOLD = timedelta(minutes=30)


class CardFacts(Protocol):
    """What the decision point, the fee and the records read of a card: an ORM ``Card``
    or the fast path's row (``fast_path.CardRow``)."""

    @property
    def id(self) -> str: ...
    @property
    def merchant_id(self) -> str: ...
    @property
    def product_id(self) -> str: ...
    @property
    def holder_id(self) -> str | None: ...


@dataclass(frozen=True)
class CardCredential:
    number: str | None = None
    secret: str | None = None
    card_id: str | None = None  # resolved already (a payment code)
    share: int | None = None  # several cards: this card's part of the amount


@dataclass(frozen=True)
class RedeemRequest:
    merchant_id: str
    store_id: str | None
    terminal_id: str | None
    idempotency_key: str
    amount: int
    currency: str
    cards: Sequence[CardCredential]
    actor: str
    allow_partial: bool = False
    kind: str = "redemption"  # or "authorization"
    hold_seconds: int | None = None
    via_payment_code: bool = False
    challenge_id: str | None = None  # the holder's answer to a ``challenge_required``
    challenge_code: str | None = None


@dataclass
class Purchase:
    """The answer: every card's record, in request order."""

    id: str
    status: str  # approved | declined
    amount: int
    taken: int
    currency: str
    decline_code: str | None
    # ORM records (the service) or plain ones (``lane``): read, never changed, through this
    redemptions: Sequence[Redemption | RecordRow]
    is_replay: bool = False
    challenge_id: str | None = None  # with ``challenge_required``: answer with its code

    @property
    def remaining(self) -> int:
        return self.amount - self.taken


class Declined(Exception):  # noqa: N818 - control flow inside the gate's builder
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def redemption_id_of(merchant_id: str, key: str, index: int) -> str:
    """Deterministic from the idempotency key, so transfer ids are too."""
    digest = hashlib.sha256(f"{merchant_id}\n{key}\n{index}".encode()).hexdigest()[:26]
    return f"rdm_{digest}"


def decision_request(card: CardFacts, request: RedeemRequest, share: int) -> DecisionRequest:
    return DecisionRequest(
        merchant_id=request.merchant_id,
        store_id=request.store_id,
        terminal_id=request.terminal_id,
        card_id=card.id,
        product_id=card.product_id,
        issuer_merchant_id=card.merchant_id,
        holder_id=card.holder_id,
        amount=share,
        currency=request.currency,
        kind=request.kind,
        via_payment_code=request.via_payment_code,
        challenge_id=request.challenge_id,
        challenge_code=request.challenge_code,
    )
