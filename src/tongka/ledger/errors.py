"""The ledger's typed errors. Each names what was wrong; a call that raises wrote nothing.

Besides these, a unit of work's caller may see the database's own two (``tongka.db.errors``,
re-exported here): ``OutcomeUnknown`` (the connection was lost: retry with the same ids)
and ``RetryLater`` (the transaction kept losing races; nothing committed).
"""

from __future__ import annotations

from tongka.db.errors import OutcomeUnknown, RetryLater
from tongka.errors import BusinessRuleViolation, Conflict, InvalidRequest, NotFound

__all__ = [
    "AccountConflict",
    "AccountNotFound",
    "CreditLimitExceeded",
    "CurrencyMismatch",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InvalidAmount",
    "InvalidTransfer",
    "LedgerContention",
    "OutcomeUnknown",
    "PendingTransferAlreadyResolved",
    "PendingTransferExpired",
    "PendingTransferNotFound",
    "PostAmountExceedsPending",
    "RetryLater",
    "SameAccount",
    "TransferNotFound",
]


class AccountNotFound(NotFound):
    code = "account_not_found"


class AccountConflict(Conflict):
    """An account id opened again with a different specification."""

    code = "account_conflict"


class CurrencyMismatch(InvalidRequest):
    code = "currency_mismatch"


class InvalidAmount(InvalidRequest):
    """Zero, negative, or not an integer number of minor units."""

    code = "invalid_amount"


class SameAccount(InvalidRequest):
    code = "same_account"


class InvalidTransfer(InvalidRequest):
    """A malformed request that no other code describes (e.g. an empty transfer id)."""

    code = "invalid_transfer"


class InsufficientFunds(BusinessRuleViolation):
    """The debit would make debits exceed credits on an account that forbids it."""

    code = "insufficient_funds"


class CreditLimitExceeded(BusinessRuleViolation):
    """The credit would make credits exceed debits on an account that forbids it."""

    code = "credit_limit_exceeded"


class IdempotencyConflict(Conflict):
    """A transfer id was used before for a different transfer."""

    code = "idempotency_conflict"


class LedgerContention(RetryLater):
    """Concurrent postings of the same transfer ids kept racing this call; nothing was
    written and nothing is wrong with the request: retry it (HTTP 503)."""

    code = "ledger_contention"


class TransferNotFound(NotFound):
    code = "transfer_not_found"


class PendingTransferNotFound(NotFound):
    code = "pending_transfer_not_found"


class PendingTransferAlreadyResolved(Conflict):
    """The pending transfer was already posted or voided."""

    code = "pending_transfer_already_resolved"


class PendingTransferExpired(BusinessRuleViolation):
    """The pending transfer's timeout has passed (whether or not the expiry job ran yet)."""

    code = "pending_transfer_expired"


class PostAmountExceedsPending(BusinessRuleViolation):
    code = "post_amount_exceeds_pending"
