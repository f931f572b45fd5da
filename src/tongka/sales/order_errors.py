"""The orders' coded errors (words in ``tongka.web.error_registry``)."""

from __future__ import annotations

from tongka.errors import BusinessRuleViolation, Conflict, InvalidRequest, NotFound


class OrderNotFound(NotFound):
    code = "order_not_found"


class InvalidOrder(InvalidRequest):
    """The order cannot be made as asked (details ``problem`` says why)."""

    code = "order_invalid"


class OrderNotCancellable(Conflict):
    code = "order_not_cancellable"


class OrderNotRefundable(Conflict):
    code = "order_not_refundable"


class OrderRefundExceedsUnspent(BusinessRuleViolation):
    code = "order_refund_exceeds_unspent"


class OrderRefundIdConflict(Conflict):
    code = "order_refund_id_conflict"
