"""What a payment is for, and who is told when it succeeds.

A part that asks for payments (``sales`` for orders) registers one listener for its
``purpose_kind``. When a payment is marked succeeded — once, however many notifications or
polls race — the payments service calls the listener in the same transaction: the
listener fulfils (posts to the ledger, activates or tops up the card) and answers
``FULFILLED``, or answers ``REFUND`` (its order was cancelled or expired, or a purchase rule
refuses the funding type) and the payment is refunded in full through its channel.
A listener that raises rolls the whole notification back; the channel delivers it again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import InvalidRequest
from tongka.payments.views import PaymentView

__all__ = [
    "PaymentListener",
    "PaymentOutcome",
    "UnknownPurpose",
    "listener_for",
    "register_listener",
    "unregister_listener",
]


class PaymentOutcome(StrEnum):
    FULFILLED = "fulfilled"
    REFUND = "refund"


class PaymentListener(Protocol):
    async def payment_succeeded(
        self, session: AsyncSession, payment: PaymentView, *, now: datetime
    ) -> PaymentOutcome: ...


class UnknownPurpose(InvalidRequest):
    code = "payment_purpose_unknown"


_listeners: dict[str, PaymentListener] = {}


def register_listener(purpose_kind: str, listener: PaymentListener) -> None:
    """Register (or replace: tests and reloads) the listener of ``purpose_kind``."""
    _listeners[purpose_kind] = listener


def unregister_listener(purpose_kind: str) -> None:
    _listeners.pop(purpose_kind, None)


def listener_for(purpose_kind: str) -> PaymentListener:
    try:
        return _listeners[purpose_kind]
    except KeyError:
        raise UnknownPurpose(
            f"no listener is registered for payments of purpose {purpose_kind!r}",
            param="purpose_kind",
            details={"purpose_kind": purpose_kind},
        ) from None


def is_registered(purpose_kind: str) -> bool:
    return purpose_kind in _listeners
