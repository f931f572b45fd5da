"""Reconciliation benchmark: a day of a channel's statement, imported and matched on
PostgreSQL.

    .venv/bin/python bench/reconciliation.py [--lines 1000000] [--keep]

Creates a throw-away PostgreSQL database with every table, puts ``--lines`` payments of
one day on our books (``payments``, by ``COPY``: timed, as the in-run reference of a raw
bulk write), writes the channel's WeChat Pay trade bill of the day to a temporary file
with differences of every kind injected (``--per-kind`` of each; default one per 20,000
lines, at least 5), then runs ``reconcile_channel`` on it, reading the file line by line
through payments' own parser, then imports the next day's bank statement (the channel's
settlement 1.00 short: a ``bank_mismatch``) and reconciles the reserve's balance (a
``reserve_balance``). Prints lines/s, elapsed (import and matching), peak RSS,
injected vs found per kind and false exceptions; exits 1 unless every injected difference
was found and nothing else. The target: 1,000,000 lines in under 2 minutes, in memory that
does not grow with the file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from tongka.db import Database  # noqa: E402
from tongka.db.engine import create_engine_for  # noqa: E402
from tongka.db.models import import_all_models  # noqa: E402
from tongka.db.statements import connection_of  # noqa: E402
from tongka.payments.adapters.wechat import parse_tradebill  # noqa: E402
from tongka.payments.channel import ChannelName, StatementLine, StatementLineKind  # noqa: E402
from tongka.payments.models import Payment  # noqa: E402
from tongka.reconciliation.bank import parse_bank_statement, settlement_note  # noqa: E402
from tongka.reconciliation.kinds import ExceptionKind  # noqa: E402
from tongka.reconciliation.models import ReconciliationException  # noqa: E402
from tongka.reconciliation.service import (  # noqa: E402
    import_bank_statement,
    reconcile_channel,
    reconcile_reserve,
)
from tongka.reconciliation.writers import BankEntry, bank_statement, wechat_bill  # noqa: E402

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DAY = date(2026, 12, 1)
ZONE = ZoneInfo("Asia/Shanghai")
TIMEZONE = "Asia/Shanghai"
FEE_RATE = Decimal("0.006")
TARGET_SECONDS = 120
COPY_CHUNK = 50_000
console = Console()


def _at(day: date, seconds: float) -> datetime:
    return (datetime.combine(day, day_time(0), ZONE) + timedelta(seconds=seconds)).astimezone(UTC)


def _amount(index: int) -> int:
    return 100 + (index * 7919) % 200_000


def _fee(amount: int) -> int:
    return int((Decimal(amount) * FEE_RATE).quantize(Decimal(1), ROUND_HALF_UP))


class Day:
    """Which payment index carries which injected difference (``per_kind`` of each)."""

    def __init__(self, lines: int, per_kind: int) -> None:
        self.lines = lines
        self.k = per_kind
        kinds = [
            ExceptionKind.SHORT,
            ExceptionKind.AMOUNT_MISMATCH,
            ExceptionKind.FEE_MISMATCH,
            ExceptionKind.DUPLICATE,
            ExceptionKind.DATE_SHIFT,
        ]
        self.ranges = {
            kind: range(n * per_kind, (n + 1) * per_kind) for n, kind in enumerate(kinds)
        }

    def kind_of(self, index: int) -> ExceptionKind | None:
        slot = index // self.k
        return list(self.ranges)[slot] if slot < len(self.ranges) else None

    def paid_at(self, index: int) -> datetime:
        if self.kind_of(index) is ExceptionKind.DATE_SHIFT:
            return _at(DAY - timedelta(days=1), 86_399 - index % 60)  # late the evening before
        return _at(DAY, 1 + index * 86_000 / self.lines)

    def injected(self) -> dict[str, set[str | None]]:
        found: dict[str, set[str | None]] = {
            kind.value: {f"pay_{i:09d}" for i in indices} for kind, indices in self.ranges.items()
        }
        found[ExceptionKind.LONG.value] = {f"pay_x{j:08d}" for j in range(self.k)}
        found[ExceptionKind.BANK_MISMATCH.value] = {None}
        found[ExceptionKind.RESERVE_BALANCE.value] = {None}
        return found

    def payment_rows(self) -> Iterator[tuple[Any, ...]]:
        for index in range(self.lines):
            amount = _amount(index)
            paid = self.paid_at(index)
            yield (
                f"pay_{index:09d}", "bench", f"ord_{index}", None, "wechat", "native_qr",
                amount, "CNY", "succeeded", 0, _fee(amount), None, None, None, None, None, None,
                None, "bench", "{}", paid + timedelta(minutes=15), paid, paid, paid,
            )  # fmt: skip

    def statement(self) -> Iterator[StatementLine]:
        for index in range(self.lines):
            kind = self.kind_of(index)
            if kind is ExceptionKind.SHORT:
                continue
            amount, fee = _amount(index), _fee(_amount(index))
            occurred = self.paid_at(index)
            if kind is ExceptionKind.AMOUNT_MISMATCH:
                amount += 1
            elif kind is ExceptionKind.FEE_MISMATCH:
                fee += 1
            elif kind is ExceptionKind.DATE_SHIFT:
                occurred = _at(DAY, index % 60)  # the channel booked it just after midnight
            line = _line(f"pay_{index:09d}", amount, fee, occurred)
            yield line
            if kind is ExceptionKind.DUPLICATE:
                yield line
        for extra in range(self.k):
            yield _line(f"pay_x{extra:08d}", 1_000 + extra, 6, _at(DAY, 43_200 + extra))


def _line(payment_id: str, amount: int, fee: int, occurred: datetime) -> StatementLine:
    return StatementLine(
        channel=ChannelName.WECHAT,
        trade_date=occurred.astimezone(ZONE).date(),
        kind=StatementLineKind.PAYMENT,
        payment_id=payment_id,
        channel_transaction_id="42" + payment_id[4:],
        amount_minor=amount,
        fee_minor=fee,
        currency="CNY",
        occurred_at=occurred,
    )


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == COPY_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _admin(statement: str) -> None:
    engine = create_engine_for(ADMIN_URL)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(statement))
    await engine.dispose()


async def _seed_payments(database: Database, day: Day) -> float:
    """Our books' payments by raw COPY; returns rows per second (the in-run reference)."""
    columns = [column.name for column in Payment.__table__.columns]
    started = time.perf_counter()
    async with database.transaction() as session:
        raw = await (await connection_of(session)).get_raw_connection()
        for chunk in _chunks(day.payment_rows()):
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                "payments", records=chunk, columns=columns
            )
    elapsed = time.perf_counter() - started
    async with database.engine.connect() as connection:
        await connection.execute(text("ANALYZE payments"))
        await connection.commit()
    return day.lines / elapsed


async def _bank_day(database: Database, channel_net_minor: int) -> str:
    """The next day's bank statement: the channel settled 1.00 less than its statement's
    net (a ``bank_mismatch``), and the reserve's books (nothing posted here) differ from
    the bank's closing balance (a ``reserve_balance``). Returns the reserve run's id."""
    settled = DAY + timedelta(days=1)
    entries = [
        BankEntry(
            _at(settled, 36_000), True, channel_net_minor - 100, settlement_note("wechat", DAY)
        )
    ]
    now = datetime.now(UTC)
    async with database.transaction() as session:
        await import_bank_statement(
            session,
            settled,
            parse_bank_statement(b"".join(bank_statement(entries, opening_minor=0))),
            actor="bench",
            now=now,
        )
        reserve = await reconcile_reserve(
            session, settled, actor="bench", now=now, timezone=TIMEZONE
        )
        return reserve.id


def _status_mib(field: str) -> float:
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``: the peak) in MiB."""
    for entry in Path("/proc/self/status").read_text().splitlines():
        if entry.startswith(field + ":"):
            return int(entry.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS, so the run's own peak shows."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


async def _run(url: str, day: Day, bill: Path) -> int:
    database = Database(create_engine_for(url))
    async with database.engine.begin() as connection:
        await connection.run_sync(import_all_models().create_all)
    copy_rate = await _seed_payments(database, day)
    with bill.open("wb") as out:
        for piece in wechat_bill(day.statement()):
            out.write(piece)
    size_mib = bill.stat().st_size / 2**20
    _reset_peak()
    rss_before = _status_mib("VmRSS")
    imported_at: list[float] = []
    started = time.perf_counter()
    async with database.transaction() as session:
        with bill.open("rb") as statement:
            run = await reconcile_channel(
                session,
                "wechat",
                DAY,
                parse_tradebill(statement),
                actor="bench",
                now=datetime.now(UTC),
                timezone=TIMEZONE,
                on_chunk=lambda _: imported_at.append(time.perf_counter()),
            )
    elapsed = time.perf_counter() - started
    rss_peak = _status_mib("VmHWM")
    reserve_run_id = await _bank_day(database, run.channel_net_minor)
    async with database.transaction() as session:
        rows = (
            await session.execute(
                select(ReconciliationException.kind, ReconciliationException.reference).where(
                    ReconciliationException.run_id.in_([run.id, reserve_run_id])
                )
            )
        ).all()
    await database.dispose()
    found: dict[str, set[str | None]] = {}
    for kind, reference in rows:
        found.setdefault(kind, set()).add(reference)
    injected = day.injected()
    import_seconds = (imported_at[-1] - started) if imported_at else elapsed

    summary = Table(
        title=f"reconciliation: {run.line_count:,} channel lines ({size_mib:,.0f} MiB file)"
    )
    for column in ("measure", "value"):
        summary.add_column(column)
    summary.add_row("elapsed (import + match)", f"{elapsed:.1f} s (target < {TARGET_SECONDS} s)")
    summary.add_row("  of which import (parse + COPY)", f"{import_seconds:.1f} s")
    summary.add_row("  of which matching (SQL)", f"{elapsed - import_seconds:.1f} s")
    summary.add_row("lines/s", f"{run.line_count / elapsed:,.0f}")
    summary.add_row("in-run reference: raw COPY of payment rows/s", f"{copy_rate:,.0f}")
    summary.add_row("ratio lines/s to raw COPY", f"{run.line_count / elapsed / copy_rate:.2f}")
    summary.add_row(
        "RSS at the start / peak during the run", f"{rss_before:,.0f} MiB / {rss_peak:,.0f} MiB"
    )
    summary.add_row("matched", f"{run.matched_count:,} of {run.line_count:,}")
    console.print(summary)

    kinds = Table(title="injected vs found")
    for column in ("kind", "injected", "found", "missed", "false"):
        kinds.add_column(column, justify="right")
    failures = 0
    for kind in sorted(set(injected) | set(found)):
        want, got = injected.get(kind, set()), found.get(kind, set())
        missed, false = len(want - got), len(got - want)
        failures += missed + false
        kinds.add_row(kind, str(len(want)), str(len(got)), str(missed), str(false))
    false_total = sum(len(found.get(k, set()) - injected.get(k, set())) for k in found)
    kinds.add_row(
        "all", str(sum(map(len, injected.values()))), str(len(rows)), "", str(false_total)
    )
    console.print(kinds)
    ok = failures == 0 and elapsed < TARGET_SECONDS
    console.print("[green]ok[/green]" if ok else "[red]FAILED[/red]")
    return 0 if failures == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--per-kind", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database and the file")
    arguments = parser.parse_args()
    per_kind = arguments.per_kind or max(5, arguments.lines // 20_000)
    name = f"tongka_bench_recon_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    folder = Path(tempfile.mkdtemp(prefix="tongka-recon-"))
    bill = folder / "wechat-tradebill.csv"
    try:
        code = asyncio.run(_run(url, Day(arguments.lines, per_kind), bill))
    finally:
        if not arguments.keep:
            bill.unlink(missing_ok=True)
            os.rmdir(folder)
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
