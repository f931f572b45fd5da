"""Refusals of redemption requests that are errors, not declines (``docs/decisions/0012``).

A decline (the card cannot pay) is a normal, recorded answer; these are requests that
cannot be answered at all: a malformed allocation, a refund beyond what was taken, a
refund onto a card that can no longer hold value, an unknown redemption.
"""

from __future__ import annotations

from tongka.errors import (
    BusinessRuleViolation,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"


class AllocationInvalid(InvalidRequest):
    """Several cards: every card needs its share, and the shares must add up to the amount."""

    code = "allocation_invalid"


class RefundExceedsRedeemed(BusinessRuleViolation):
    code = "refund_exceeds_redeemed"


class RefundCardUnavailable(BusinessRuleViolation):
    """The card is expired or closed: value cannot go back onto it."""

    code = "refund_card_unavailable"


class RedemptionNotRefundable(Conflict):
    """Declined, reversed, or a hold not captured: nothing was taken to give back."""

    code = "redemption_not_refundable"


class AuthorizationNotOpen(Conflict):
    """Capture or void of an authorization already captured, voided, reversed or expired."""

    code = "authorization_not_open"


class CaptureExceedsHold(BusinessRuleViolation):
    code = "capture_exceeds_hold"


class StoreNotAllowed(PermissionDenied):
    """A store-bound key redeems only at its own store; the terminal must be the store's."""

    code = "store_not_allowed"
