"""Export the posted journal for accountants: CSV vouchers (凭证) or a beancount file.

Only posted amounts are exported (single transfers, and the posted part of two-phase
transfers): a pending reservation is not a journal entry yet. Amounts are written as exact
decimal strings from integer minor units (``Money.to_decimal_string``); dates are business
dates in the platform's time zone.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import business_date
from tongka.errors import InvalidRequest
from tongka.ledger.models import LedgerAccount
from tongka.ledger.queries import transfer_from_row, transfers_table
from tongka.ledger.types import AccountType, Transfer, TransferKind
from tongka.money import Money

EXPORT_FORMATS = ("csv", "beancount")
POSTED_KINDS = (TransferKind.SINGLE.value, TransferKind.POST_PENDING.value)
VOUCHER_COLUMNS = ["date", "voucher", "account", "debit", "credit", "memo"]
BEANCOUNT_ROOTS = {
    AccountType.ASSET: "Assets",
    AccountType.LIABILITY: "Liabilities",
    AccountType.EQUITY: "Equity",
    AccountType.INCOME: "Income",
    AccountType.EXPENSE: "Expenses",
}


@dataclass(frozen=True)
class _Account:
    account_id: str
    type: AccountType
    code: str
    currency: str


def _amount(minor_units: int, currency: str) -> str:
    return Money(minor_units, currency).to_decimal_string()


def _utc_bounds(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    """[start of ``first``, start of the day after ``last``) in the platform time zone, as UTC."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


async def _posted_transfers(
    session: AsyncSession, start: datetime, end: datetime
) -> list[Transfer]:
    rows = await session.execute(
        select(transfers_table)
        .where(
            transfers_table.c.kind.in_(POSTED_KINDS),
            transfers_table.c.created_at >= start,
            transfers_table.c.created_at < end,
        )
        .order_by(transfers_table.c.created_at, transfers_table.c.sequence)
    )
    return [transfer_from_row(row) for row in rows]


async def _posted_before(session: AsyncSession, start: datetime) -> dict[str, int]:
    """Each account's net posted balance (debits minus credits) before ``start``."""
    net: dict[str, int] = defaultdict(int)
    for column, sign in (
        (transfers_table.c.debit_account_id, 1),
        (transfers_table.c.credit_account_id, -1),
    ):
        rows = await session.execute(
            select(column, func.sum(transfers_table.c.amount))
            .where(transfers_table.c.kind.in_(POSTED_KINDS), transfers_table.c.created_at < start)
            .group_by(column)
        )
        for account_id, amount in rows:
            net[account_id] += sign * int(amount)
    return {account_id: amount for account_id, amount in net.items() if amount}


async def _accounts(session: AsyncSession) -> dict[str, _Account]:
    rows = await session.execute(
        select(LedgerAccount.id, LedgerAccount.type, LedgerAccount.code, LedgerAccount.currency)
    )
    return {row[0]: _Account(row[0], AccountType(row[1]), row[2], row[3]) for row in rows}


def _memo(transfer: Transfer) -> str:
    parts = [transfer.code, transfer.reference or "", transfer.transfer_id]
    return " ".join(part for part in parts if part)


def vouchers_csv(transfers: Iterable[Transfer], timezone: str) -> str:
    """One voucher per transfer (a debit line and a credit line), numbered per business date."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(VOUCHER_COLUMNS)
    numbers: dict[date, int] = defaultdict(int)
    for transfer in transfers:
        day = business_date(transfer.created_at, timezone)
        numbers[day] += 1
        voucher = f"{day:%Y%m%d}-{numbers[day]:05d}"
        amount = _amount(transfer.amount, transfer.currency)
        memo = _memo(transfer)
        writer.writerow([day.isoformat(), voucher, transfer.debit_account_id, amount, "", memo])
        writer.writerow([day.isoformat(), voucher, transfer.credit_account_id, "", amount, memo])
    return buffer.getvalue()


def beancount_account(account: _Account) -> str:
    """``Liabilities:Card:Card-1``: each part starts with a capital or digit, [A-Za-z0-9-]."""

    def component(value: str) -> str:
        cleaned = re.sub(r"[^A-Za-z0-9-]", "-", value)
        if cleaned != value:  # keep distinct ids distinct after cleaning
            cleaned = f"{cleaned}-{hashlib.sha256(value.encode()).hexdigest()[:6]}"
        if not cleaned[0].isalnum():
            cleaned = f"X{cleaned}"
        return cleaned[0].upper() + cleaned[1:]

    code = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", account.code) if part)
    return f"{BEANCOUNT_ROOTS[account.type]}:{code or 'Other'}:{component(account.account_id)}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "/").replace('"', "'") + '"'


def beancount_journal(
    accounts: dict[str, _Account],
    opening: dict[str, int],
    transfers: list[Transfer],
    first: date,
    last: date,
    timezone: str,
) -> str:
    """Open directives, opening balances at ``first``, the transactions, balance assertions."""
    used = sorted(
        set(opening) | {a for t in transfers for a in (t.debit_account_id, t.credit_account_id)}
    )
    lines = [
        f"; Tongka ledger export, business dates {first} to {last} ({timezone})",
        'option "title" "Tongka ledger"',
        "",
    ]
    lines += [f"{first} open {beancount_account(accounts[a])} {accounts[a].currency}" for a in used]
    closing = dict(opening)
    by_currency: dict[str, list[str]] = defaultdict(list)
    for account_id in sorted(opening):
        account = accounts[account_id]
        by_currency[account.currency].append(
            f"  {beancount_account(account)}  {_amount(opening[account_id], account.currency)} "
            f"{account.currency}"
        )
    for currency, postings in sorted(by_currency.items()):
        lines += ["", f'{first} * "Opening balances {currency}"', *postings]
    for transfer in transfers:
        day = business_date(transfer.created_at, timezone)
        amount = _amount(transfer.amount, transfer.currency)
        debit, credit = accounts[transfer.debit_account_id], accounts[transfer.credit_account_id]
        lines += [
            "",
            f"{day} * {_quoted(_memo(transfer))}",
            f"  transfer: {_quoted(transfer.transfer_id)}",
            f"  {beancount_account(debit)}  {amount} {transfer.currency}",
            f"  {beancount_account(credit)}  -{amount} {transfer.currency}",
        ]
        closing[debit.account_id] = closing.get(debit.account_id, 0) + transfer.amount
        closing[credit.account_id] = closing.get(credit.account_id, 0) - transfer.amount
    lines.append("")
    after = last + timedelta(days=1)  # a balance assertion holds at the start of its date
    for account_id in used:
        account = accounts[account_id]
        lines.append(
            f"{after} balance {beancount_account(account)}  "
            f"{_amount(closing.get(account_id, 0), account.currency)} {account.currency}"
        )
    return "\n".join(lines) + "\n"


async def export_journal(
    session: AsyncSession, first: date, last: date, *, format: str, timezone: str
) -> str:
    """The posted journal of business dates ``first`` to ``last`` (inclusive) as text."""
    if format not in EXPORT_FORMATS:
        raise InvalidRequest(
            f"format must be one of {', '.join(EXPORT_FORMATS)}",
            code="invalid_export_format",
            param="format",
            details={"formats": list(EXPORT_FORMATS)},
        )
    if last < first:
        raise InvalidRequest(
            f"--to {last} is before --from {first}",
            code="invalid_date_range",
            param="to",
            details={"first_date": first, "last_date": last},
        )
    start, end = _utc_bounds(first, last, timezone)
    transfers = await _posted_transfers(session, start, end)
    if format == "csv":
        return vouchers_csv(transfers, timezone)
    accounts = await _accounts(session)
    opening = await _posted_before(session, start)
    return beancount_journal(accounts, opening, transfers, first, last, timezone)
