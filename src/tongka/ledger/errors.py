"""The ledger's typed errors. Each names what was wrong; a call that raises wrote nothing."""

from __future__ import annotations

from tongka.errors import BusinessRuleViolation, Conflict, InvalidRequest, NotFound


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
