"""The bank batch payment file (批量代付文件) and its result file (代付结果文件): the
layout of a typical Chinese bank's 企业网银 batch payment template, as CSV.

Payment file, one line a payout after the header::

    序号,收款账号,收款户名,开户行,金额(元),用途,业务参考号

Result file, one line per payment line::

    序号,业务参考号,收款账号,收款户名,金额(元),处理结果,失败原因,银行流水号

处理结果 is 成功 (paid), 失败 (refused, 失败原因 says why), 退票 (paid, then returned
by the receiving bank) or 处理中 (no answer yet). 业务参考号 is the payer's reference
(our payout's key): the bank pays a reference once, however often it is sent.

Encoding: GBK, what bank upload templates expect, written as GB18030 (GBK's superset,
byte-identical for every GBK character, and able to write any name without loss). A file
that starts with a UTF-8 BOM is read as UTF-8 instead (some banks export results so).
Amounts are yuan with two decimals. Read line by line (``iter_lines``), never whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tongka.payments.adapters._http import iter_lines
from tongka.payments.amounts import minor_to_yuan, yuan_to_minor
from tongka.payments.channel import ChannelError

ENCODING = "gb18030"
BOM = b"\xef\xbb\xbf"
PAYMENT_COLUMNS = ("序号", "收款账号", "收款户名", "开户行", "金额(元)", "用途", "业务参考号")
RESULT_COLUMNS = (
    "序号",
    "业务参考号",
    "收款账号",
    "收款户名",
    "金额(元)",
    "处理结果",
    "失败原因",
    "银行流水号",
)
SUCCEEDED, FAILED, RETURNED, PENDING = "成功", "失败", "退票", "处理中"
RESULTS = (SUCCEEDED, FAILED, RETURNED, PENDING)


class BatchFileInvalid(ValueError):
    """A line that cannot be read; ``line`` is its number (the header is line 1)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class PaymentLine:
    number: int
    account_number: str
    account_name: str
    bank_name: str
    amount_minor: int
    purpose: str
    reference: str


@dataclass(frozen=True)
class ResultLine:
    number: int
    reference: str
    account_number: str
    account_name: str
    amount_minor: int
    result: str
    reason: str
    bank_serial: str


def _row(cells: Iterable[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(list(cells))
    return out.getvalue().encode(ENCODING)


def write_payments(lines: Iterable[PaymentLine]) -> Iterator[bytes]:
    yield _row(PAYMENT_COLUMNS)
    for line in lines:
        yield _row(
            (
                str(line.number),
                line.account_number,
                line.account_name,
                line.bank_name,
                minor_to_yuan(line.amount_minor),
                line.purpose,
                line.reference,
            )
        )


def write_results(lines: Iterable[ResultLine]) -> Iterator[bytes]:
    yield _row(RESULT_COLUMNS)
    for line in lines:
        yield _row(
            (
                str(line.number),
                line.reference,
                line.account_number,
                line.account_name,
                minor_to_yuan(line.amount_minor),
                line.result,
                line.reason,
                line.bank_serial,
            )
        )


def _rows(content: bytes | Iterable[bytes], columns: tuple[str, ...]) -> Iterator[dict[str, str]]:
    encoding: str | None = None
    header: list[str] | None = None
    for number, raw in enumerate(iter_lines(content), start=1):
        if encoding is None:
            encoding = "utf-8-sig" if raw.startswith(BOM) else ENCODING
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            raise BatchFileInvalid(number, f"not {encoding.upper()} text") from None
        if not text.strip():
            continue
        cells = next(csv.reader(io.StringIO(text)))
        if header is None:
            missing = [name for name in columns if name not in cells]
            if missing:
                raise BatchFileInvalid(number, f"the columns {', '.join(missing)} are missing")
            header = cells
            continue
        if len(cells) != len(header):
            raise BatchFileInvalid(number, f"{len(cells)} cells, not {len(header)}")
        yield {"": str(number), **dict(zip(header, cells, strict=True))}
    if header is None:
        raise BatchFileInvalid(1, "the file is empty")


def _amount(row: dict[str, str]) -> int:
    try:
        amount = yuan_to_minor(row["金额(元)"])
    except ChannelError:
        raise BatchFileInvalid(int(row[""]), f"amount {row['金额(元)']!r}") from None
    if amount <= 0:
        raise BatchFileInvalid(int(row[""]), f"amount {row['金额(元)']!r} is not positive")
    return amount


def _reference(row: dict[str, str]) -> str:
    reference = row["业务参考号"].strip()
    if not reference or len(reference) > 80:
        raise BatchFileInvalid(int(row[""]), "业务参考号 must be 1 to 80 characters")
    return reference


def read_payments(content: bytes | Iterable[bytes]) -> Iterator[PaymentLine]:
    for row in _rows(content, PAYMENT_COLUMNS):
        yield PaymentLine(
            number=int(row[""]),
            account_number=row["收款账号"].strip(),
            account_name=row["收款户名"].strip(),
            bank_name=row["开户行"].strip(),
            amount_minor=_amount(row),
            purpose=row["用途"].strip(),
            reference=_reference(row),
        )


def read_results(content: bytes | Iterable[bytes]) -> Iterator[ResultLine]:
    for row in _rows(content, RESULT_COLUMNS):
        result = row["处理结果"].strip()
        if result not in RESULTS:
            raise BatchFileInvalid(int(row[""]), f"处理结果 {result!r} is not one of {RESULTS}")
        yield ResultLine(
            number=int(row[""]),
            reference=_reference(row),
            account_number=row["收款账号"].strip(),
            account_name=row["收款户名"].strip(),
            amount_minor=_amount(row),
            result=result,
            reason=row["失败原因"].strip(),
            bank_serial=row["银行流水号"].strip(),
        )
