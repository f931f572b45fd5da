"""Checking transfer requests, building transfers from them, and the errors that name why."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tongka.ledger.accounts import AccountInfo
from tongka.ledger.balances import LimitBreach
from tongka.ledger.errors import (
    AccountNotFound,
    CreditLimitExceeded,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidTransfer,
    SameAccount,
)
from tongka.ledger.models import TRANSFER_ID_LENGTH
from tongka.ledger.types import Transfer, TransferKind, TransferRequest

# Amounts and balances are 64-bit in the database; a single amount is kept far below that
# so that no sum of transfers an account could plausibly receive overflows.
MAX_AMOUNT = 2**53


def check_transfer_id(transfer_id: object) -> None:
    if not isinstance(transfer_id, str) or not 0 < len(transfer_id) <= TRANSFER_ID_LENGTH:
        raise InvalidTransfer(
            f"transfer id must be a string of 1 to {TRANSFER_ID_LENGTH} characters, "
            f"got {transfer_id!r}",
            param="transfer_id",
        )


def check_amount(amount: object, transfer_id: str) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(
            f"transfer {transfer_id}: amount must be an integer number of minor units, "
            f"got {amount!r} ({type(amount).__name__})",
            param="amount",
        )
    if amount <= 0:
        raise InvalidAmount(
            f"transfer {transfer_id}: amount must be positive, got {amount}",
            param="amount",
            details={"problem": "not_positive"},
        )
    if amount > MAX_AMOUNT:
        raise InvalidAmount(
            f"transfer {transfer_id}: amount {amount} exceeds the maximum {MAX_AMOUNT}",
            param="amount",
            details={"problem": "above_maximum"},
        )


def check_request_shape(request: TransferRequest) -> None:
    """Checks that need no database: id, amount, accounts differ, code, timeout."""
    check_transfer_id(request.transfer_id)
    check_amount(request.amount, request.transfer_id)
    if request.debit_account_id == request.credit_account_id:
        raise SameAccount(
            f"transfer {request.transfer_id}: debit and credit account are both "
            f"{request.debit_account_id}",
            param="credit_account_id",
        )
    if not request.code or len(request.code) > 40:
        raise InvalidTransfer(
            f"transfer {request.transfer_id}: code must be 1 to 40 characters", param="code"
        )
    if request.reference is not None and len(request.reference) > 128:
        raise InvalidTransfer(
            f"transfer {request.transfer_id}: reference is longer than 128 characters",
            param="reference",
        )
    if not isinstance(request.metadata, dict):
        raise InvalidTransfer(
            f"transfer {request.transfer_id}: metadata must be a JSON object", param="metadata"
        )
    if request.timeout_seconds is not None and (
        not request.pending
        or isinstance(request.timeout_seconds, bool)
        or not isinstance(request.timeout_seconds, int)
        or request.timeout_seconds <= 0
    ):
        raise InvalidTransfer(
            f"transfer {request.transfer_id}: timeout_seconds must be a positive integer "
            "and is only allowed on a pending transfer",
            param="timeout_seconds",
        )


def check_request_accounts(request: TransferRequest, accounts: dict[str, AccountInfo]) -> None:
    """Checks against the accounts: both exist and share the transfer's currency."""
    for account_id in (request.debit_account_id, request.credit_account_id):
        if account_id not in accounts:
            raise AccountNotFound(
                f"transfer {request.transfer_id}: ledger account {account_id} does not exist",
                param="account_id",
            )
    debit, credit = accounts[request.debit_account_id], accounts[request.credit_account_id]
    if not debit.currency == credit.currency == request.currency:
        raise CurrencyMismatch(
            f"transfer {request.transfer_id} in {request.currency}: debit account "
            f"{debit.account_id} is in {debit.currency}, credit account {credit.account_id} "
            f"is in {credit.currency}",
            param="currency",
        )


def request_kind(request: TransferRequest) -> TransferKind:
    return TransferKind.PENDING if request.pending else TransferKind.SINGLE


def new_transfer(request: TransferRequest, sequence: int, now: datetime) -> Transfer:
    expires_at = None
    if request.pending and request.timeout_seconds is not None:
        expires_at = now + timedelta(seconds=request.timeout_seconds)
    return Transfer(
        transfer_id=request.transfer_id,
        sequence=sequence,
        kind=request_kind(request),
        debit_account_id=request.debit_account_id,
        credit_account_id=request.credit_account_id,
        amount=request.amount,
        currency=request.currency,
        code=request.code,
        reference=request.reference,
        metadata=dict(request.metadata),
        pending_id=None,
        expires_at=expires_at,
        created_at=now,
        timeout_seconds=request.timeout_seconds if request.pending else None,
    )


def insert_params(transfer: Transfer) -> dict[str, Any]:
    return {
        "id": transfer.transfer_id,
        "kind": transfer.kind.value,
        "debit_account_id": transfer.debit_account_id,
        "credit_account_id": transfer.credit_account_id,
        "amount": transfer.amount,
        "currency": transfer.currency,
        "code": transfer.code,
        "reference": transfer.reference,
        "metadata": transfer.metadata,
        "pending_id": transfer.pending_id,
        "timeout_seconds": transfer.timeout_seconds,
        "expires_at": transfer.expires_at,
        "created_at": transfer.created_at,
    }


def insert_columns(requests: Sequence[TransferRequest], now: datetime) -> dict[str, list[Any]]:
    """``insert_params(new_transfer(request, 0, now))`` for each request, as columns (one
    list per column, the arrays a batch insert takes), without building the transfers: a
    batch builds each ``Transfer`` once, after the insert gave it its sequence."""
    pending_timeouts = [
        request.timeout_seconds if request.pending else None for request in requests
    ]
    return {
        "id": [request.transfer_id for request in requests],
        "kind": [request_kind(request).value for request in requests],
        "debit_account_id": [request.debit_account_id for request in requests],
        "credit_account_id": [request.credit_account_id for request in requests],
        "amount": [request.amount for request in requests],
        "currency": [request.currency for request in requests],
        "code": [request.code for request in requests],
        "reference": [request.reference for request in requests],
        "metadata": [dict(request.metadata) for request in requests],
        "pending_id": [None] * len(requests),
        "timeout_seconds": pending_timeouts,
        "expires_at": [
            None if timeout is None else now + timedelta(seconds=timeout)
            for timeout in pending_timeouts
        ],
        "created_at": [now] * len(requests),
    }


def matches_request(request: TransferRequest, existing: Transfer) -> bool:
    """Same content as an earlier posting with this id (``now`` aside)?"""
    return (
        existing.kind is request_kind(request)
        and existing.debit_account_id == request.debit_account_id
        and existing.credit_account_id == request.credit_account_id
        and existing.amount == request.amount
        and existing.currency == request.currency
        and existing.code == request.code
        and existing.reference == request.reference
        and existing.metadata == json_roundtrip(request.metadata)
        and existing.timeout_seconds == (request.timeout_seconds if request.pending else None)
    )


def json_roundtrip(value: dict[str, Any]) -> Any:
    """What the database gives back for ``value`` (tuples become lists, and so on)."""
    return json.loads(json.dumps(value))


def idempotency_conflict(transfer_id: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"transfer id {transfer_id} was already used for a different transfer",
        param="transfer_id",
    )


def limit_error(breach: LimitBreach, transfer_id: str) -> Exception:
    """The refusal's error, naming the balance the refusal was decided on."""
    account, current = breach.account, breach.current
    if breach.is_debit_limit:
        available = current.credits_posted - current.debits_posted - current.debits_pending
        return InsufficientFunds(
            f"transfer {transfer_id}: account {account.account_id} has {available} "
            f"{account.currency} (minor units) available, not enough for this debit",
            param="amount",
            details={
                "account_id": account.account_id,
                "available": available,
                "currency": account.currency,
            },
        )
    headroom = current.debits_posted - current.credits_posted - current.credits_pending
    return CreditLimitExceeded(
        f"transfer {transfer_id}: account {account.account_id} may take only {headroom} "
        f"{account.currency} (minor units) more in credits",
        param="amount",
        details={
            "account_id": account.account_id,
            "available": headroom,
            "currency": account.currency,
        },
    )
