"""Redemption benchmark over HTTP: the server as production runs it, wrk as load generator.

    .venv/bin/python bench/redemption.py [--seconds 10] [--cards 10000] [--workers 2]

Creates a throw-away PostgreSQL database, seeds merchants, stores, cashier API keys and
funded cards through the services (each merchant's cards as one card batch, activated at
once), starts ``uvicorn`` (``tongka.api.app:create_app``, several workers) on it, and
drives ``POST /v1/redemptions`` with ``wrk`` and a Lua script (each request its own
``Idempotency-Key``; ``apt-get install -y wrk`` if missing):

  (a) cards of one merchant, 64 connections;
  (b) cards spread over several merchants;
  (c) one hot card holding N small units and 10×N requests: exactly N approved;
  (d) a spike: (a) with 4× the connections for a short time (wrk has no fixed-rate mode;
      the spike is a concurrency spike, not a rate).

Prints approvals/s, p50/p99/p99.9, responses by kind, wrk's CPU, and the ratios of (a) to
the ledger's batched posting rate and raw asyncpg single-statement rate, both measured in
the same run by ``bench/ledger.py``'s scenarios (c) and (r); then ``ledger verify``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from argon2 import PasswordHasher  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from httpbench import (  # noqa: E402 - bench/httpbench.py
    SECRET,
    bench_merchant,
    create_database,
    drop_database,
    ledger_reference,
    ledger_verify,
    server_env,
    start_server,
    stop,
    wait_until_serving,
)
from tongka.cards import export  # noqa: E402
from tongka.cards import service as cards  # noqa: E402
from tongka.cards.keys import card_keys  # noqa: E402
from tongka.config import Settings  # noqa: E402
from tongka.db import Database  # noqa: E402
from tongka.db.engine import create_engine_for  # noqa: E402
from tongka.db.models import import_all_models  # noqa: E402
from tongka.identity.crypto import IdentityKeys  # noqa: E402
from tongka.identity.passwords import use_password_hasher  # noqa: E402
from tongka.identity.principal import SYSTEM  # noqa: E402

EXPORT_PASSWORD = "benchmark export password"
SEED_CONCURRENCY = 6  # (b)'s merchants seeded at once (the pool holds more connections)
PORT = 18_731
console = Console(width=200)

LUA = r"""
local cards, counter, amount, offset, prefix = {}, 0, 100, 0, ""
tid = "0"  -- global: setup() sets it per thread
approved, declined, other = 0, 0, 0
local threads = {}
function setup(thread)
  thread:set("tid", tostring(#threads + 1) .. string.format("x%x", math.random(1, 2^30)))
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do table.insert(cards, line) end
  amount = tonumber(args[2])
  prefix = args[3]
  offset = (tonumber(string.sub(tid, 1, 1)) * 104729) % #cards
end
function request()
  counter = counter + 1
  local line = cards[(counter * 7919 + offset) % #cards + 1]
  local key, store, number, secret = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)")
  local body = string.format(
    '{"amount":{"amount":%d,"currency":"CNY"},"store_id":"%s","cards":[{"number":"%s","secret":"%s"}]}',
    amount, store, number, secret)
  return wrk.format("POST", "/v1/redemptions", {
    ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. tid .. "-" .. counter}, body)
end
function response(status, headers, body)
  if status == 200 and body:find('"status":"approved"', 1, true) then approved = approved + 1
  elseif status == 200 then
    local code = body:match('"decline_code":"([a-z_]+)"') or "declined"
    declined = declined + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, d, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("approved"); d = d + t:get("declined"); o = o + t:get("other")
  end
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n", a, d, o,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration))
end
"""


async def _cards(
    database: Database, settings: Settings, merchant_id: str, count: int, amount: int, bin_: str
) -> list[tuple[str, str]]:
    """``count`` funded cards of a new product: one card batch (chunked issue, sealed
    export) and its activation in one ledger transaction (``fund_batch``), as an
    enterprise order is — not card by card through the service (10,000 cards took more
    than 13 minutes that way)."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        spec = cards.ProductSpec(
            name="Bench",
            currency="CNY",
            bin_prefix=bin_,
            number_length=16,
            max_balance=100_000,
            is_named=False,
            face_values=[amount],
            validity_months=36,
        )
        product = await cards.create_product(session, merchant_id, spec, actor="b", now=now)
        await cards.submit_product(session, product.id, merchant_id=None, actor="b", now=now)
        await cards.review_product(
            session, product.id, is_approved=True, note=None, principal=SYSTEM, now=now
        )
        await cards.set_quota(session, merchant_id, "CNY", 10**15, actor="b", now=now)
        batch = await cards.create_batch(
            session,
            product.id,
            merchant_id=merchant_id,
            count=count,
            face_value=amount,
            export_password=EXPORT_PASSWORD,
            actor="b",
            now=now,
        )
    await cards.run_batch(database, batch.id, keys=card_keys(settings), now=now)
    async with database.transaction() as session:
        content = await cards.take_export(
            session, batch.id, merchant_id=merchant_id, actor="b", now=now
        )
        await cards.fund_batch(
            session,
            batch.id,
            transfer_reference=f"BENCH-{batch.id}",
            amount=count * amount,
            actor="b",
            now=now,
        )
    rows = list(export.decrypt_file(content, EXPORT_PASSWORD))[1:]
    return [(row[0], row[1]) for row in rows]


def _wrk(lines: list[str], amount: int, connections: int, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        script, data = Path(folder) / "r.lua", Path(folder) / "cards.tsv"
        script.write_text(LUA)
        data.write_text("\n".join(lines) + "\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{max(1, int(seconds))}s",
                "--timeout",
                "5s",
                "-s",
                str(script),
                f"http://127.0.0.1:{PORT}",
                "--",
                str(data),
                str(amount),
                uuid.uuid4().hex[:8],  # keys never repeat across scenarios
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT"))
    a, d, o, p50, p99, p999, sock, status, duration = (int(x) for x in line.split()[1:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    seconds_run = duration / 1e6
    return {
        "approved": a,
        "declined": d,
        "errors": o + sock,
        "per_s": a / seconds_run,
        "p50": p50 / 1000,
        "p99": p99 / 1000,
        "p999": p999 / 1000,
        "cpu": cpu / seconds_run,
    }


async def _seed(
    database: Database, settings: Settings, args: argparse.Namespace
) -> dict[str, list[str]]:
    async with database.engine.begin() as connection:
        await connection.run_sync(import_all_models().create_all)
    keys = IdentityKeys.from_settings(settings)
    # the merchants' admin passwords are never used here (the tills use API keys): cheap
    # argon2id parameters in this seeding process only, as the tests do (the server keeps
    # its own); at the production cost 100 merchants took ~100 s of hashing
    use_password_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    # likewise the throw-away export files' scrypt (twice per batch: the batch's key, the
    # decryption here): the file's header carries the cost, so both ends agree
    export.SCRYPT_N = 2**10
    sets: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    merchant, store, key = await bench_merchant(database, keys, 0)
    for number, secret in await _cards(database, settings, merchant, args.cards, 100_000, "628890"):
        sets["a"].append(f"{key}\t{store}\t{number}\t{secret}")
    per = max(1, args.cards // max(1, args.merchants))
    gate = asyncio.Semaphore(SEED_CONCURRENCY)

    async def spread(index: int) -> list[str]:
        """One of (b)'s merchants and its cards; several at once (each is mostly waits
        for commits and the export key's scrypt)."""
        async with gate:
            m, s, k = await bench_merchant(database, keys, index)
            found = await _cards(database, settings, m, per, 100_000, f"62{index:04d}")
        return [f"{k}\t{s}\t{number}\t{secret}" for number, secret in found]

    for lines in await asyncio.gather(*(spread(i) for i in range(1, args.merchants + 1))):
        sets["b"].extend(lines)
    for number, secret in await _cards(database, settings, merchant, 1, args.hot_units, "628891"):
        sets["c"].append(f"{key}\t{store}\t{number}\t{secret}")
    return sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="(a) and (b) each")
    parser.add_argument("--spike-seconds", type=float, default=10.0)
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--merchants", type=int, default=100)
    parser.add_argument("--hot-units", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ledger-seconds", type=float, default=5.0)
    parser.add_argument(
        "--only", action="append", choices=["a", "b", "c", "d"], help="run only these scenarios"
    )
    parser.add_argument(
        "--coalesce",
        type=int,
        default=None,
        help="TONGKA_COALESCE_MAX_MEMBERS for the server (1: one transaction per request)",
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="seed, print the time it took, and stop"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    name, url = create_database("tongka_bench_redeem")
    extra = {} if args.coalesce is None else {"TONGKA_COALESCE_MAX_MEMBERS": str(args.coalesce)}
    env = server_env(url, **extra)
    settings = Settings(database_url=url, secret_key=SECRET)
    server = None
    try:
        began = time.perf_counter()

        async def seed() -> dict[str, list[str]]:
            database = Database(create_engine_for(url))
            try:
                return await _seed(database, settings, args)
            finally:
                await database.dispose()

        sets = asyncio.run(seed())
        console.print(
            f"seeded {sum(len(v) for v in sets.values()):,} cards "
            f"in {time.perf_counter() - began:.1f} s"
        )
        if args.seed_only:
            return 0  # ``finally`` drops the database
        server = start_server(env, PORT, args.workers)
        wait_until_serving(server, PORT)
        plans = {
            "a": (sets["a"], 100, 64, args.seconds),
            "b": (sets["b"], 100, 64, args.seconds),
            "c": (sets["c"], 1, 64, args.seconds),
            "d": (sets["a"], 100, 256, args.spike_seconds),
        }
        rows = {key: _wrk(*plan) for key, plan in plans.items() if key in (args.only or plans)}
    finally:
        stop(server)
        if "rows" not in locals():
            drop_database(name)
    batched, raw = ledger_reference(args.ledger_seconds)
    table = Table(title=f"Redemption over HTTP ({args.workers} uvicorn workers, wrk -t2)")
    for column in (
        "scenario",
        "approved/s",
        "approved",
        "declined",
        "errors",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "wrk CPU",
        "÷ ledger batched",
        "÷ raw asyncpg",
    ):
        table.add_column(column)
    for key, row in rows.items():
        table.add_row(
            key,
            f"{row['per_s']:.0f}",
            str(row["approved"]),
            str(row["declined"]),
            str(row["errors"]),
            f"{row['p50']:.1f}",
            f"{row['p99']:.1f}",
            f"{row['p999']:.1f}",
            f"{row['cpu']:.2f}",
            f"{row['per_s'] / batched:.3f}",
            f"{row['per_s'] / raw:.3f}",
        )
    console.print(table)
    console.print(f"ledger batched (c): {batched:.0f}/s; raw asyncpg (r): {raw:.0f}/s")

    ok, verified = ledger_verify(url)
    console.print(verified)
    if "c" in rows:
        console.print(
            json.dumps({"hot_card_approved": rows["c"]["approved"], "expected": args.hot_units})
        )
    drop_database(name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
