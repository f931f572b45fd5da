"""The ledger's public value types (its contract with every other part).

Other parts import from ``tongka.ledger`` only: ``open_account``, ``post_transfers``,
``post_batch``, ``post_pending``, ``void_pending``, ``get_balance``, ``list_transfers`` and
these types. Nothing else writes a balance (ARCHITECTURE rule 2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class AccountType(enum.StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def is_debit_normal(self) -> bool:
        return self in (AccountType.ASSET, AccountType.EXPENSE)


class AccountCode(enum.StrEnum):
    """What an account is for. Its normal side follows from its ``AccountType``."""

    CARD = "card"  # liability: what the platform owes a card's holder
    CARD_BONUS = "card_bonus"  # liability: the bonus part of a card (充值赠送)
    MERCHANT_PAYABLE = "merchant_payable"  # liability: owed to a merchant
    ISSUER_QUOTA = "issuer_quota"  # memo: issuing capacity granted to an issuer
    FEE_INCOME = "fee_income"  # income
    BREAKAGE_INCOME = "breakage_income"  # income: expired balances (营业外收入)
    RESERVE_BANK = "reserve_bank"  # asset: 备付金 bank account
    CHANNEL_RECEIVABLE = "channel_receivable"  # asset: owed to us by a payment channel
    OPENING_EQUITY = "opening_equity"  # equity: demo / opening balances
    SUSPENSE = "suspense"  # liability: unmatched money awaiting a decision
    OPERATING_BANK = "operating_bank"  # asset: the platform's own money (三分离: not reserve)
    CHANNEL_FEE_EXPENSE = "channel_fee_expense"  # expense: what channels keep of a payment
    PROMOTION_BUDGET = "promotion_budget"  # liability: a merchant's bonus budget (充值赠送)
    MERCHANT_RESERVE = "merchant_reserve"  # liability: a merchant's rolling reserve (held back)
    RETURN_PAYABLE = "return_payable"  # liability: owed to holders of returned cards (退卡)


class TransferKind(enum.StrEnum):
    SINGLE = "single"  # posted at once
    PENDING = "pending"  # reserves funds (two-phase, phase one)
    POST_PENDING = "post_pending"  # phase two: posts (all or part of) a pending transfer
    VOID_PENDING = "void_pending"  # phase two: releases a pending transfer
    EXPIRE_PENDING = "expire_pending"  # phase two, by the expiry job: timeout passed


@dataclass(frozen=True)
class AccountSpec:
    """What to open. ``account_id`` is chosen by the caller so opening is idempotent."""

    account_id: str
    currency: str
    type: AccountType
    code: AccountCode | str
    owner_type: str | None = None
    owner_id: str | None = None
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False
    hot: bool = False  # credited by many concurrent transfers: balance striped over shards


@dataclass(frozen=True)
class TransferRequest:
    """A transfer to post. ``transfer_id`` is the caller's idempotency key."""

    transfer_id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: str
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    pending: bool = False
    timeout_seconds: int | None = None  # pending transfers only: expires after this


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    sequence: int
    kind: TransferKind
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: str
    reference: str | None
    metadata: dict[str, Any]
    pending_id: str | None  # phase two only: the pending transfer this one resolves
    expires_at: datetime | None
    created_at: datetime
    timeout_seconds: int | None = None  # pending transfers only


@dataclass(frozen=True)
class Balance:
    account_id: str
    currency: str
    type: AccountType
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def posted(self) -> int:
        """Net posted balance on the account's normal side."""
        if self.type.is_debit_normal:
            return self.debits_posted - self.credits_posted
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """Posted balance less what pending transfers have reserved against it."""
        if self.type.is_debit_normal:
            return self.debits_posted - self.credits_posted - self.credits_pending
        return self.credits_posted - self.debits_posted - self.debits_pending


@dataclass(frozen=True)
class BatchResult:
    """One outcome per request of ``post_batch``, in order: a transfer or the error."""

    transfer: Transfer | None
    error: Exception | None

    @property
    def ok(self) -> bool:
        return self.error is None
