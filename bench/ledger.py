"""Ledger benchmark on PostgreSQL: throughput and latency of the posting paths.

    make bench                       # or: .venv/bin/python bench/ledger.py [--seconds 8]

Uses ``TONGKA_BENCH_DATABASE_URL`` if set (its ledger tables are emptied first), otherwise
creates a throw-away database on the local server (127.0.0.1:5432) and drops it at the end.

Scenarios (targets from issue 2):
  (a) single-transfer transactions, 32 concurrent clients, 10,000 card accounts (limited:
      debits must not exceed credits) paying into 100 merchant accounts;
  (b) the same, all into ONE hot merchant account (balance striped over shards);
  (c) post_batch, batches of 100 transfers.

Clients run in several OS processes (``--processes``, default 2), each with its own
connection pool, the way a deployment runs several API processes: one Python process
cannot drive 32 clients on this machine without becoming the bottleneck itself. Each
transfer is its own database transaction (BEGIN ... COMMIT, synchronous_commit on) on a
driver connection (``Database.driver_transaction``, asyncpg itself: the hot paths' unit of
work); rows "C" and "A" run (a) on a SQLAlchemy Core connection and an ORM session for
comparison. (c) runs one batch client per process by default (``--batch-clients``), as a
coalescer per API process would. At the end ``verify`` runs over everything posted and its
result is printed.

Besides throughput and latency, each row shows the CPU time spent per transfer by the
client processes and by PostgreSQL (both on this machine), and the share of the machine's
CPU time the hypervisor took meanwhile ("steal"): the CPU figures compare builds even when
the machine's speed changes between runs. "calib. ms" times a fixed pure-Python loop just
before each scenario: the same build runs slower in proportion when it is high.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import asyncpg  # noqa: E402
import uvloop  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import text  # noqa: E402

from tongka.db import Database  # noqa: E402
from tongka.db.engine import create_engine_for  # noqa: E402
from tongka.db.models import import_all_models  # noqa: E402
from tongka.ledger import (  # noqa: E402
    AccountCode,
    AccountSpec,
    AccountType,
    TransferRequest,
    open_account,
    post_batch,
    post_transfers,
)
from tongka.ledger.accounts import HOT_SHARD_COUNT, load_accounts  # noqa: E402
from tongka.ledger.statements import (  # noqa: E402
    BATCH_OPTIMISTIC_WRITE_POSTGRESQL,
    PREFER_INDEX_JOINS,
    SINGLE_TRANSFER_POSTGRESQL,
)
from tongka.ledger.verify import verify_ledger  # noqa: E402

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CARD_COUNT = 10_000
MERCHANT_COUNT = 100
CARD_FUNDS = 10**12
HOT_MERCHANT = "bench:hot-merchant"
FUNDING = "bench:funding"
# (c): one batch in flight per client process, as a coalescer in each API process would
# post one batch of the requests queued meanwhile while it gathers the next
BATCH_CLIENTS = 2
console = Console(width=220)


def card_id(number: int) -> str:
    return f"bench:card:{number:05d}"


def merchant_id(number: int) -> str:
    return f"bench:merchant:{number:03d}"


@dataclass
class Scenario:
    key: str
    title: str
    clients: int
    batch_size: int  # 0: one post_transfers per transaction
    hot: bool
    target_per_second: float
    target_note: str
    # "driver": each transaction on a driver connection (``Database.driver_transaction``), as
    # the hot paths run; "connection" and "session-ledger": the same on a SQLAlchemy Core
    # connection (``Database.connection_transaction``) and an ORM session
    # (``Database.transaction``); "session": an empty session transaction; "raw": asyncpg only
    mode: str = "driver"


@dataclass
class Outcome:
    transfers: int
    elapsed: float
    latencies_ms: list[float]
    processes: int
    client_cpu_per_transfer: float  # seconds of client-process CPU per transfer
    server_cpu_per_transfer: float  # seconds of PostgreSQL-process CPU per transfer
    steal_share: float  # of the machine's CPU time meanwhile, the part the hypervisor took
    calibration_ms: float  # a fixed pure-Python loop, timed just before (machine speed)

    @property
    def per_second(self) -> float:
        return self.transfers / self.elapsed

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --------------------------------------------------------------------------- set-up


async def _admin(statement: str) -> None:
    engine = create_engine_for(ADMIN_URL)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def prepare(url: str) -> None:
    """Fresh ledger tables, 10,000 funded cards, 100 merchants, one hot merchant."""
    engine = create_engine_for(url)
    async with engine.begin() as connection:
        metadata = import_all_models()
        tables = [table for table in metadata.sorted_tables if table.name.startswith("ledger_")]
        await connection.run_sync(lambda sync: metadata.drop_all(sync, tables=tables))
        await connection.run_sync(lambda sync: metadata.create_all(sync, tables=tables))
    database = Database(engine)
    now = datetime.now(UTC)
    specs = [
        AccountSpec(FUNDING, "CNY", AccountType.ASSET, AccountCode.CHANNEL_RECEIVABLE),
        AccountSpec(
            HOT_MERCHANT, "CNY", AccountType.LIABILITY, AccountCode.MERCHANT_PAYABLE, hot=True
        ),
        *(  # merchant payables are hot accounts: nearly every redemption credits one
            AccountSpec(
                merchant_id(n), "CNY", AccountType.LIABILITY, AccountCode.MERCHANT_PAYABLE, hot=True
            )
            for n in range(MERCHANT_COUNT)
        ),
        *(
            AccountSpec(
                card_id(n),
                "CNY",
                AccountType.LIABILITY,
                AccountCode.CARD,
                debits_must_not_exceed_credits=True,
            )
            for n in range(CARD_COUNT)
        ),
    ]
    async with database.transaction() as session:
        for spec in specs:
            await open_account(session, spec, now=now)
    for start in range(0, CARD_COUNT, 1000):
        async with database.transaction() as session:
            await post_batch(
                session,
                [
                    TransferRequest(
                        f"bench:fund:{n}", FUNDING, card_id(n), CARD_FUNDS, "CNY", "top_up"
                    )
                    for n in range(start, min(start + 1000, CARD_COUNT))
                ],
                now=now,
            )
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    await engine.dispose()


# --------------------------------------------------------------------------- clients


def _request(rng: random.Random, prefix: str, number: int, hot: bool) -> TransferRequest:
    merchant = HOT_MERCHANT if hot else merchant_id(rng.randrange(MERCHANT_COUNT))
    return TransferRequest(
        transfer_id=f"{prefix}:{number}",
        debit_account_id=card_id(rng.randrange(CARD_COUNT)),
        credit_account_id=merchant,
        amount=rng.randint(1, 10_000),
        currency="CNY",
        code="redemption",
    )


async def _client(
    database: Database,
    scenario: Scenario,
    client: int,
    start_at: float,
    stop_at: float,
    latencies: list[float],
) -> int:
    rng = random.Random(f"{os.getpid()}-{client}")
    prefix = f"{scenario.key}:{uuid.uuid4().hex[:8]}:{client}"
    posted = 0
    number = 0
    await asyncio.sleep(max(0.0, start_at - time.time()))
    while time.time() < stop_at:
        began = time.perf_counter()
        if scenario.mode == "session":
            async with database.transaction() as session:
                await session.execute(text("SELECT 1"))
            posted += 1
            latencies.append((time.perf_counter() - began) * 1000)
            continue
        unit_of_work = {
            "session-ledger": database.transaction,
            "connection": database.connection_transaction,
            "driver": database.driver_transaction,
        }[scenario.mode]()
        async with unit_of_work as session:
            if scenario.batch_size:
                requests = [
                    _request(rng, prefix, number + i, scenario.hot)
                    for i in range(scenario.batch_size)
                ]
                results = await post_batch(session, requests, now=datetime.now(UTC))
                posted += sum(1 for result in results if result.ok)
                number += scenario.batch_size
            else:
                await post_transfers(
                    session, [_request(rng, prefix, number, scenario.hot)], now=datetime.now(UTC)
                )
                posted += 1
                number += 1
        latencies.append((time.perf_counter() - began) * 1000)
    return posted


async def _raw_client(
    pool: asyncpg.Pool, client: int, start_at: float, stop_at: float, latencies: list[float]
) -> int:
    """The ledger's single-transfer statement straight through asyncpg: the floor."""
    rng = random.Random(f"raw-{os.getpid()}-{client}")
    prefix = f"raw:{uuid.uuid4().hex[:8]}:{client}"
    statement = SINGLE_TRANSFER_POSTGRESQL[(True, False)]
    posted = 0
    await asyncio.sleep(max(0.0, start_at - time.time()))
    async with pool.acquire() as connection:
        prepared = await connection.prepare(statement.sql)
        shard = connection.get_server_pid() % HOT_SHARD_COUNT
        while time.time() < stop_at:
            began = time.perf_counter()
            amount = rng.randint(1, 10_000)
            values = {
                "id": f"{prefix}:{posted}",
                "kind": "single",
                "debit_account_id": card_id(rng.randrange(CARD_COUNT)),
                "credit_account_id": merchant_id(rng.randrange(MERCHANT_COUNT)),
                "amount": amount,
                "currency": "CNY",
                "code": "redemption",
                "reference": None,
                "metadata": {},
                "pending_id": None,
                "timeout_seconds": None,
                "expires_at": None,
                "created_at": datetime.now(UTC),
            }
            values |= {
                "first_account_id": values["debit_account_id"],
                "first_shard": 0,
                "first_debits_posted": amount,
                "first_credits_posted": 0,
                "first_debits_pending": 0,
                "first_credits_pending": 0,
                "second_account_id": values["credit_account_id"],
                "second_shard": shard,
                "second_shard_count": HOT_SHARD_COUNT,
                "second_debits_posted": 0,
                "second_credits_posted": amount,
                "second_debits_pending": 0,
                "second_credits_pending": 0,
            }
            async with connection.transaction():
                await prepared.fetchrow(*statement.arguments(values))
            posted += 1
            latencies.append((time.perf_counter() - began) * 1000)
    return posted


async def _raw_batch_client(
    pool: asyncpg.Pool, client: int, start_at: float, stop_at: float, latencies: list[float]
) -> int:
    """(c)'s one statement straight through asyncpg, its arrays built from random numbers
    with no ledger code at all (no requests, checks or results): the batch path's floor."""
    rng = random.Random(f"raw-batch-{os.getpid()}-{client}")
    prefix = f"rawb:{uuid.uuid4().hex[:8]}:{client}"
    statement = BATCH_OPTIMISTIC_WRITE_POSTGRESQL
    posted = 0
    await asyncio.sleep(max(0.0, start_at - time.time()))
    async with pool.acquire() as connection:
        shard = connection.get_server_pid() % HOT_SHARD_COUNT
        while time.time() < stop_at:
            began = time.perf_counter()
            cards = [rng.randrange(CARD_COUNT) for _ in range(100)]
            merchants = [rng.randrange(MERCHANT_COUNT) for _ in range(100)]
            amounts = [rng.randint(1, 10_000) for _ in range(100)]
            debits = dict.fromkeys(sorted(set(cards)), 0)
            credits = dict.fromkeys(sorted(set(merchants)), 0)
            for card, merchant, amount in zip(cards, merchants, amounts, strict=True):
                debits[card] += amount
                credits[merchant] += amount
            now = datetime.now(UTC)
            values = {
                "id": [f"{prefix}:{posted + i}" for i in range(100)],
                "kind": ["single"] * 100,
                "debit_account_id": [card_id(card) for card in cards],
                "credit_account_id": [merchant_id(merchant) for merchant in merchants],
                "amount": amounts,
                "currency": ["CNY"] * 100,
                "code": ["redemption"] * 100,
                "reference": [None] * 100,
                "metadata": ["{}"] * 100,
                "pending_id": [None] * 100,
                "timeout_seconds": [None] * 100,
                "expires_at": [None] * 100,
                "created_at": [now] * 100,
                "account_id": [card_id(c) for c in debits] + [merchant_id(m) for m in credits],
                "shard": [0] * len(debits) + [shard] * len(credits),
                "debits_posted": list(debits.values()) + [0] * len(credits),
                "credits_posted": [0] * len(debits) + list(credits.values()),
                "debits_pending": [0] * (len(debits) + len(credits)),
                "credits_pending": [0] * (len(debits) + len(credits)),
                "tests_debits": [True] * len(debits) + [False] * len(credits),
                "tests_credits": [False] * (len(debits) + len(credits)),
            }
            async with connection.transaction():
                values["hashjoin"], values["mergejoin"], *_ = await connection.fetchrow(
                    PREFER_INDEX_JOINS.sql
                )
                await connection.fetch(statement.sql, *statement.arguments(values))
            posted += 100
            latencies.append((time.perf_counter() - began) * 1000)
    return posted


async def _run_raw_clients(
    url: str, scenario: Scenario, clients: int, start_at: float, stop_at: float
) -> tuple[int, list[float], float]:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=clients, max_size=clients)
    latencies: list[float] = []
    try:
        return await _timed(
            start_at,
            [
                (_raw_batch_client if scenario.batch_size else _raw_client)(
                    pool, client, start_at, stop_at, latencies
                )
                for client in range(clients)
            ],
            latencies,
        )
    finally:
        await pool.close()


async def _timed(
    start_at: float, clients: list[Coroutine[Any, Any, int]], latencies: list[float]
) -> tuple[int, list[float], float]:
    """Run the clients (which start at ``start_at``), measuring this process's CPU meanwhile."""
    tasks = [asyncio.create_task(client) for client in clients]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    cpu_before = time.process_time()
    counts = await asyncio.gather(*tasks)
    return sum(counts), latencies, time.process_time() - cpu_before


async def _run_clients(
    url: str, scenario: Scenario, clients: int, start_at: float, stop_at: float
) -> tuple[int, list[float], float]:
    if scenario.mode == "raw":
        return await _run_raw_clients(url, scenario, clients, start_at, stop_at)
    database = Database(create_engine_for(url, pool_size=clients + 2))
    # a long-running API process has the accounts it uses in its metadata cache
    async with database.transaction() as session:
        await load_accounts(
            session,
            [HOT_MERCHANT]
            + [card_id(n) for n in range(CARD_COUNT)]
            + [merchant_id(n) for n in range(MERCHANT_COUNT)],
        )
    # open the connections before the clock starts
    async with asyncio.TaskGroup() as group:
        for _ in range(clients):
            group.create_task(_warm(database))
    latencies: list[float] = []
    try:
        return await _timed(
            start_at,
            [
                _client(database, scenario, client, start_at, stop_at, latencies)
                for client in range(clients)
            ],
            latencies,
        )
    finally:
        await database.dispose()


async def _warm(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(text("SELECT 1"))
        await asyncio.sleep(0.05)


def _process_main(
    url: str, scenario: Scenario, clients: int, start_at: float, stop_at: float
) -> tuple[int, list[float], float]:
    """One client process; returns (transfers, latencies, CPU seconds spent while timed).

    It runs on uvloop, as the API does under uvicorn (``uvicorn[standard]`` installs it).
    """
    return uvloop.run(_run_clients(url, scenario, clients, start_at, stop_at))


def _postgres_cpu_seconds() -> float:
    """CPU time (user + system) of every PostgreSQL process on this machine so far,
    including backends that have exited (the postmaster's reaped children)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            content = stat.read_text()
        except OSError:
            continue  # the process is gone
        name, _, rest = content.partition(") ")
        if name.endswith("(postgres"):
            fields = rest.split()
            ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(all CPU ticks, stolen ticks) of the machine so far (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields[:8]), fields[7]


def _calibration_ms() -> float:
    """CPU time of a fixed pure-Python loop: this shared machine's speed varies by up to a
    factor of two within minutes, and so does everything measured after it."""
    began = time.process_time()
    total = 0
    for number in range(1_000_000):
        total += number * number
    return (time.process_time() - began) * 1000


def run_scenario(url: str, scenario: Scenario, processes: int, seconds: float) -> Outcome:
    share = [
        scenario.clients // processes + (1 if i < scenario.clients % processes else 0)
        for i in range(processes)
    ]
    calibration = _calibration_ms()
    start_at = time.time() + 2.0  # every process connected and waiting by then
    stop_at = start_at + seconds
    with ProcessPoolExecutor(max_workers=processes) as pool:
        futures = [
            pool.submit(_process_main, url, scenario, clients, start_at, stop_at)
            for clients in share
        ]
        time.sleep(max(0.0, start_at - time.time()))
        server_before, machine_before = _postgres_cpu_seconds(), _machine_ticks()
        results = [future.result() for future in futures]
        server_after, machine_after = _postgres_cpu_seconds(), _machine_ticks()
    elapsed = max(stop_at, time.time()) - start_at
    transfers = sum(count for count, _, _ in results)
    latencies = [latency for _, part, _ in results for latency in part]
    client_cpu = sum(cpu for _, _, cpu in results)
    all_ticks, stolen_ticks = (
        after - before for after, before in zip(machine_after, machine_before, strict=True)
    )
    return Outcome(
        transfers,
        elapsed,
        latencies,
        processes,
        client_cpu / transfers,
        (server_after - server_before) / transfers,
        stolen_ticks / all_ticks if all_ticks else 0.0,
        calibration,
    )


async def verify(url: str) -> bool:
    database = Database(create_engine_for(url))
    try:
        async with database.transaction() as session:
            report = await verify_ledger(session, datetime.now(UTC))
    finally:
        await database.dispose()
    table = Table(title="ledger verify after the benchmark")
    for column in ("check", "result", "details"):
        table.add_column(column)
    for check in report.checks:
        table.add_row(check.name, "ok" if check.ok else "FAILED", check.details)
    console.print(table)
    return report.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each scenario")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument(
        "--batch-clients",
        type=int,
        default=BATCH_CLIENTS,
        help="concurrent post_batch clients in (c), spread over the processes",
    )
    parser.add_argument("--only", choices=["a", "b", "c", "C", "A", "s", "r", "R"], action="append")
    arguments = parser.parse_args()

    own_database = None
    url = os.environ.get("TONGKA_BENCH_DATABASE_URL")
    if not url:
        own_database = f"tongka_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{own_database}"'))
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{own_database}"
    try:
        began = time.perf_counter()
        asyncio.run(prepare(url))
        console.print(
            f"set-up: {CARD_COUNT:,} cards, {MERCHANT_COUNT} merchants, 1 hot merchant "
            f"({time.perf_counter() - began:.1f} s); {arguments.processes} client processes, "
            f"{arguments.seconds:g} s per scenario"
        )
        scenarios = [
            Scenario("a", "(a) single transfers, 100 merchants", 32, 0, False, 2000, ">= 2,000/s"),
            Scenario("b", "(b) single transfers, 1 hot merchant", 32, 0, True, 0, ">= 90% of (a)"),
            Scenario(
                "c",
                "(c) post_batch, 100 per batch",
                arguments.batch_clients,
                100,
                False,
                20000,
                ">= 20,000/s",
            ),
            Scenario(
                "C",
                "(a) on a Core connection (Database.connection_transaction)",
                32,
                0,
                False,
                0,
                "-",
                mode="connection",
            ),
            Scenario(
                "A",
                "(a) through an ORM session (Database.transaction)",
                32,
                0,
                False,
                0,
                "-",
                mode="session-ledger",
            ),
            Scenario(
                "s",
                "reference: empty SQLAlchemy session transaction",
                32,
                0,
                False,
                0,
                "-",
                mode="session",
            ),
            Scenario(
                "r",
                "reference: (a)'s SQL via raw asyncpg, no SQLAlchemy",
                32,
                0,
                False,
                0,
                "-",
                mode="raw",
            ),
            Scenario(
                "R",
                "reference: (c)'s statement via raw asyncpg, no ledger code",
                arguments.batch_clients,
                100,
                False,
                0,
                "-",
                mode="raw",
            ),
        ]
        outcomes: dict[str, Outcome] = {}
        for scenario in scenarios:
            if arguments.only and scenario.key not in arguments.only:
                continue
            outcomes[scenario.key] = run_scenario(
                url, scenario, arguments.processes, arguments.seconds
            )
        table = Table(title=f"tongka ledger benchmark ({os.cpu_count()} cores, PostgreSQL)")
        for column in (
            "scenario",
            "clients",
            "transfers/s",
            "p50 ms",
            "p99 ms",
            "target",
            "ratio to target",
            "client CPU µs/transfer",
            "server CPU µs/transfer",
            "steal %",
            "calib. ms",
        ):
            table.add_column(column, justify="right" if column != "scenario" else "left")
        for scenario in scenarios:
            outcome = outcomes.get(scenario.key)
            if outcome is None:
                continue
            target = scenario.target_per_second
            if scenario.key == "b" and "a" in outcomes:
                target = 0.9 * outcomes["a"].per_second
            ratio = f"{outcome.per_second / target:.2f}" if target else "-"
            target_text = f"{scenario.target_note}, p99 < 50" if target else "-"
            latency_note = " per batch" if scenario.batch_size else ""
            table.add_row(
                scenario.title,
                f"{scenario.clients} in {outcome.processes} procs",
                f"{outcome.per_second:,.0f}",
                f"{outcome.percentile(0.50):.1f}{latency_note}",
                f"{outcome.percentile(0.99):.1f}{latency_note}",
                target_text,
                ratio,
                f"{outcome.client_cpu_per_transfer * 1e6:.0f}",
                f"{outcome.server_cpu_per_transfer * 1e6:.0f}",
                f"{outcome.steal_share * 100:.0f}",
                f"{outcome.calibration_ms:.0f}",
            )
        console.print(table)
        ok = asyncio.run(verify(url))
        console.print("verify: " + ("[green]passed[/green]" if ok else "[red]FAILED[/red]"))
        return 0 if ok else 1
    finally:
        if own_database:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{own_database}" WITH (FORCE)'))


if __name__ == "__main__":
    raise SystemExit(main())
