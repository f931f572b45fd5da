"""The words of reconciliation: exception kinds, resolution methods, what a run is of."""

from __future__ import annotations

import enum

RESERVE = "reserve"  # the run of the reserve bank account's balance (not a channel)
CHANNELS = ("wechat", "alipay", "unionpay", "bank_transfer")
RUN_CHANNELS = (*CHANNELS, RESERVE)


class ExceptionKind(enum.StrEnum):
    LONG = "long"  # 长款: in the channel's statement, not in the ledger
    SHORT = "short"  # 短款: in the ledger, not in the channel's statement
    AMOUNT_MISMATCH = "amount_mismatch"
    FEE_MISMATCH = "fee_mismatch"
    DUPLICATE = "duplicate"  # the statement lists the same payment or refund again
    DATE_SHIFT = "date_shift"  # both have it, on different business dates
    BANK_MISMATCH = "bank_mismatch"  # the channel's settlement is not what the bank got
    RESERVE_BALANCE = "reserve_balance"  # the reserve account's ledger vs bank balance


# Kinds found on a channel statement line (the rest are found on the ledger's or bank's side).
CHANNEL_SIDE = (
    ExceptionKind.LONG,
    ExceptionKind.AMOUNT_MISMATCH,
    ExceptionKind.FEE_MISMATCH,
    ExceptionKind.DUPLICATE,
    ExceptionKind.DATE_SHIFT,
)


class ResolutionMethod(enum.StrEnum):
    MANUAL_MATCH = "manual_match"  # matched by hand: final at once
    ADJUSTMENT = "adjustment"  # a transfer through suspense: final once approved


class ExceptionStatus(enum.StrEnum):
    OPEN = "open"
    AWAITING_APPROVAL = "awaiting_approval"
    RESOLVED = "resolved"


class RunStatus(enum.StrEnum):
    IMPORTING = "importing"
    MATCHED = "matched"


class BankStatus(enum.StrEnum):
    UNCHECKED = "unchecked"  # the bank statement that would show it is not imported yet
    MATCHED = "matched"
    MISMATCH = "mismatch"
