"""The reserve bank account's statement (CSV), streamed.

The columns of the sandbox bank's statement (``tongka.payments.adapters.bank_transfer``:
交易日期, 交易时间, 流水号, 借贷, 金额, 手续费, 对方户名, 对方账号, 附言) and, as real bank
statements have, 余额 (the balance after the line; the last line's is the closing
balance). A channel's settlement of a day into the account names it in 附言:
``结算 wechat 2026-12-01`` (``settlement_note``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from tongka.payments.adapters._http import iter_lines, parse_china_time
from tongka.payments.adapters.bank_transfer import STATEMENT_COLUMNS, TIME_FORMAT
from tongka.payments.amounts import yuan_to_minor
from tongka.payments.channel import ChannelError
from tongka.reconciliation.errors import StatementInvalid
from tongka.reconciliation.kinds import CHANNELS

BALANCE_COLUMN = "余额"
SETTLEMENT_WORD = "结算"


@dataclass(frozen=True)
class BankLineIn:
    direction: str  # credit (贷, in) | debit (借, out)
    amount_minor: int
    fee_minor: int
    serial: str | None
    note: str
    channel: str | None
    settles_date: date | None
    balance_minor: int | None
    occurred_at: datetime


def settlement_note(channel: str, settles_date: date) -> str:
    return f"{SETTLEMENT_WORD} {channel} {settles_date.isoformat()}"


def _settlement(note: str) -> tuple[str | None, date | None]:
    words = note.split()
    if len(words) == 3 and words[0] == SETTLEMENT_WORD and words[1] in CHANNELS:
        try:
            return words[1], date.fromisoformat(words[2])
        except ValueError:
            return None, None
    return None, None


def _line(row: dict[str, str], number: int) -> BankLineIn:
    try:
        occurred = parse_china_time(f"{row['交易日期']} {row['交易时间']}", TIME_FORMAT)
        assert occurred is not None
        balance = row.get(BALANCE_COLUMN) or ""
        channel, settles = _settlement(row["附言"])
        return BankLineIn(
            direction="debit" if row["借贷"] == "借" else "credit",
            amount_minor=yuan_to_minor(row["金额"]),
            fee_minor=yuan_to_minor(row["手续费"] or "0"),
            serial=row["流水号"] or None,
            note=row["附言"][:200],
            channel=channel,
            settles_date=settles,
            balance_minor=yuan_to_minor(balance) if balance else None,
            occurred_at=occurred,
        )
    except (KeyError, ValueError, ChannelError) as exc:
        raise StatementInvalid(
            f"bank statement line {number} cannot be read: {exc}",
            param="bank_statement",
            details={"line": number, "problem": f"line {number}: {exc}"},
        ) from None


def parse_bank_statement(content: bytes | Iterable[bytes]) -> Iterator[BankLineIn]:
    """The statement's lines, one at a time (never the whole file in memory)."""
    header: list[str] | None = None
    for number, raw in enumerate(iter_lines(content), start=1):
        text = raw.decode("utf-8-sig")
        if not text.strip():
            continue
        cells = next(csv.reader(io.StringIO(text)))
        if header is None:
            missing = [name for name in STATEMENT_COLUMNS if name not in cells]
            if missing:
                problem = f"the columns {', '.join(missing)} are missing"
                raise StatementInvalid(
                    f"the bank statement lacks the columns {', '.join(missing)}",
                    param="bank_statement",
                    details={"problem": problem},
                )
            header = cells
            continue
        if len(cells) != len(header):
            problem = f"line {number} has {len(cells)} cells, not {len(header)}"
            raise StatementInvalid(
                f"bank statement {problem}",
                param="bank_statement",
                details={"line": number, "problem": problem},
            )
        yield _line(dict(zip(header, cells, strict=True)), number)
