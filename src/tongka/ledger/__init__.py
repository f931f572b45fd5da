"""The double-entry ledger: the only code that changes a balance. See ``README.md`` here."""

from tongka.ledger.types import (
    AccountCode,
    AccountSpec,
    AccountType,
    Balance,
    BatchResult,
    Transfer,
    TransferKind,
    TransferRequest,
)

__all__ = [
    "AccountCode",
    "AccountSpec",
    "AccountType",
    "Balance",
    "BatchResult",
    "Transfer",
    "TransferKind",
    "TransferRequest",
]
