"""Payments' coded domain errors (each worded in ``tongka.web.error_registry``)."""

from __future__ import annotations

from tongka.errors import (
    BusinessRuleViolation,
    Conflict,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
)


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class UnknownChannel(InvalidRequest):
    code = "channel_unknown"


class NotificationMismatch(InvalidRequest):
    """A notification whose signature verified but whose amount, currency or payment does not
    match ours: refused, nothing changes, the channel is told it failed (it delivers again)."""

    code = "notification_mismatch"


class NoChannelAvailable(ServiceUnavailable):
    """No enabled, healthy channel takes this method and amount."""

    code = "no_channel_available"


class ChannelNotUsable(BusinessRuleViolation):
    """The caller named a channel that is disabled, open-circuited, or does not take this
    method or amount."""

    code = "channel_not_usable"


class PaymentNotRefundable(BusinessRuleViolation):
    code = "payment_not_refundable"


class RefundExceedsPayment(BusinessRuleViolation):
    code = "refund_exceeds_payment"


class RefundIdConflict(Conflict):
    code = "refund_id_conflict"


class PaymentAlreadyPaid(BusinessRuleViolation):
    code = "payment_already_paid"


class InvalidChannelLimits(InvalidRequest):
    code = "invalid_channel_limits"


class ReserveTransferExceedsFeeIncome(BusinessRuleViolation):
    code = "reserve_transfer_exceeds_fee_income"


class ReserveTransferConflict(Conflict):
    code = "reserve_transfer_conflict"
