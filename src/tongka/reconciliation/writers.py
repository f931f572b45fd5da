"""Writing statements in the formats the importers read, line by line: the WeChat Pay trade
bill (as the sandbox gateway writes it, ``tongka.payments.sandbox.wechat``) and the
reserve account's bank statement (``bank.py``). The benchmark writes a million-line day
with these, the tests and the demo smaller ones; a writer yields encoded lines, so a
large file is written without being held.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from tongka.payments.adapters._http import CHINA
from tongka.payments.adapters.bank_transfer import STATEMENT_COLUMNS
from tongka.payments.amounts import minor_to_yuan
from tongka.payments.channel import StatementLine, StatementLineKind
from tongka.payments.sandbox.wechat import BILL_HEADER
from tongka.reconciliation.bank import BALANCE_COLUMN

SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"  # noqa: E501
)
_BILL_COLUMNS = BILL_HEADER.split(",")


def _bill_row(line: StatementLine) -> str:
    is_refund = line.kind is StatementLineKind.REFUND
    cells = dict.fromkeys(_BILL_COLUMNS, "")
    cells.update(
        {
            "交易时间": line.occurred_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "微信订单号": line.channel_transaction_id or "",
            "商户订单号": line.payment_id,
            "交易状态": "REFUND" if is_refund else "SUCCESS",
            "货币种类": line.currency,
            "应结订单总金额": minor_to_yuan(0 if is_refund else line.amount_minor),
            "商户退款单号": (line.refund_id or "") if is_refund else "",
            "退款金额": minor_to_yuan(line.amount_minor if is_refund else 0),
            "手续费": minor_to_yuan(line.fee_minor),
        }
    )
    return ",".join("`" + cells[name] for name in _BILL_COLUMNS)


def wechat_bill(lines: Iterable[StatementLine]) -> Iterator[bytes]:
    """A WeChat Pay trade bill (交易账单) of ``lines``, then its summary."""
    yield (BILL_HEADER + "\r\n").encode()
    count = total = refunds = fees = 0
    for line in lines:
        count += 1
        fees += line.fee_minor
        if line.kind is StatementLineKind.REFUND:
            refunds += line.amount_minor
        else:
            total += line.amount_minor
        yield (_bill_row(line) + "\r\n").encode()
    yield (SUMMARY_HEADER + "\r\n").encode()
    summary = [count, total, refunds, 0, fees, total, refunds]
    yield (
        ",".join("`" + (str(v) if i == 0 else minor_to_yuan(v)) for i, v in enumerate(summary))
        + "\r\n"
    ).encode()


@dataclass(frozen=True)
class BankEntry:
    occurred_at: datetime
    is_credit: bool
    amount_minor: int
    note: str
    serial: str = ""
    fee_minor: int = 0


def bank_statement(entries: Iterable[BankEntry], opening_minor: int) -> Iterator[bytes]:
    """The reserve account's statement: each entry with the balance after it (余额)."""
    balance = opening_minor

    def encoded(cells: list[str]) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow(cells)
        return out.getvalue().encode()

    yield encoded([*STATEMENT_COLUMNS, BALANCE_COLUMN])
    for entry in entries:
        balance += entry.amount_minor if entry.is_credit else -entry.amount_minor
        local = entry.occurred_at.astimezone(CHINA)
        yield encoded(
            [
                local.strftime("%Y-%m-%d"),
                local.strftime("%H:%M:%S"),
                entry.serial,
                "贷" if entry.is_credit else "借",
                minor_to_yuan(entry.amount_minor),
                minor_to_yuan(entry.fee_minor),
                "",
                "",
                entry.note,
                minor_to_yuan(balance),
            ]
        )
