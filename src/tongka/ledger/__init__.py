"""The double-entry ledger: the only code that changes a balance. See ``README.md`` here.

Other parts use only what this module exports; every function takes the caller's unit of
work (a session, a Core connection, or for postings and reads a driver connection) and
``now``, and never commits (the caller owns the transaction).
"""

from tongka.ledger.accounts import open_account, open_accounts
from tongka.ledger.batch import post_batch
from tongka.ledger.posting import post_transfers
from tongka.ledger.queries import (
    find_transfers,
    get_balance,
    get_balances,
    get_transfer,
    list_accounts,
    list_transfers,
    list_transfers_created,
)
from tongka.ledger.two_phase import expire_pending, post_pending, void_pending
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
    "expire_pending",
    "find_transfers",
    "get_balance",
    "get_balances",
    "get_transfer",
    "list_accounts",
    "list_transfers",
    "list_transfers_created",
    "open_account",
    "open_accounts",
    "post_batch",
    "post_pending",
    "post_transfers",
    "void_pending",
]
