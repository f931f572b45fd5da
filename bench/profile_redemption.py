"""Where one redemption's time goes: statements, commits and CPU per request (PostgreSQL).

    .venv/bin/python bench/profile_redemption.py [--requests 300] [--clients 8] [--cprofile]

Seeds a throw-away database with ``bench/redemption.py``'s helpers, runs the app in
process (httpx over ASGI, no sockets, no uvicorn) and sends ``--requests`` redemptions from
``--clients`` concurrent tasks. Counts SQL statements, commits and savepoints per request
(SQLAlchemy's engine events and the driver pool's connections both counted) and prints the
wall time per request; ``--cprofile`` prints the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402

import httpbench  # noqa: E402  (bench/httpbench.py)
import redemption as bench  # noqa: E402  (bench/redemption.py)
from tongka.api.app import create_app  # noqa: E402
from tongka.config import Settings  # noqa: E402
from tongka.db import Database  # noqa: E402
from tongka.db.engine import create_engine_for  # noqa: E402

TRACE: list[str] = []


def _count(database: Database, counts: collections.Counter[str]) -> None:
    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        counts["statements"] += 1
        head = " ".join(statement.split()[:4])[:60]
        counts["s: " + head] += 1
        if TRACE:
            TRACE.append(" ".join(statement.split())[:150])

    @event.listens_for(database.engine.sync_engine, "commit")
    def _commit(conn):  # type: ignore[no-untyped-def]
        counts["commits"] += 1

    @event.listens_for(database.engine.sync_engine, "savepoint")
    def _savepoint(conn, name):  # type: ignore[no-untyped-def]
        counts["savepoints"] += 1


async def _run(args: argparse.Namespace, url: str, sets: dict[str, list[str]]) -> None:
    settings = Settings(
        database_url=url,
        secret_key=httpbench.SECRET,
        rate_limit_per_key="1000000/second",
        rate_limit_per_ip="1000000/second",
        coalesce_max_members=args.coalesce,
        coalesce_lanes=args.lanes,
    )
    database = Database(create_engine_for(url))
    counts: collections.Counter[str] = collections.Counter()
    app = create_app(settings, database=database)
    lines = sets[args.scenario]
    transport = httpx.ASGITransport(app=app)
    answers: collections.Counter[str] = collections.Counter()
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

        async def one(i: int) -> None:
            key, store, number, secret = lines[(i * 7919) % len(lines)].split("\t")
            if args.baseline:  # the harness and the framework alone: one SELECT 1
                health = await client.get("/v1/health")
                answers[f"{health.status_code} health"] += 1
                return
            response = await client.post(
                "/v1/redemptions",
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"p-{i}"},
                json={
                    "amount": {"amount": args.amount, "currency": "CNY"},
                    "store_id": store,
                    "cards": [{"number": number, "secret": secret}],
                },
            )
            body = response.json()
            answers[f"{response.status_code} {body.get('status', body.get('code'))}"] += 1

        for i in range(10):  # warm-up (caches, prepared statements)
            await one(-1 - i)
        _count(database, counts)
        if args.trace:
            TRACE.append("(start)")
        answers.clear()
        queue = list(range(args.requests))
        profile = cProfile.Profile() if args.cprofile else None

        async def client_task() -> None:
            while queue:
                await one(queue.pop())

        began, cpu_began = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        await asyncio.gather(*(client_task() for _ in range(args.clients)))
        if profile:
            profile.disable()
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
    await database.dispose()
    n = args.requests
    print(f"{n} requests, {args.clients} clients: {elapsed:.2f} s, {n / elapsed:.0f}/s,")
    print(f"  {elapsed / n * 1000:.2f} ms per request (wall, one process)")
    print(f"  {cpu / n * 1000:.2f} ms of this process's CPU per request")
    print("  answers:", dict(answers))
    coalescer = getattr(app.state, "coalescer", None)
    if coalescer is not None:
        print(f"  batches: {coalescer.batches}, largest: {coalescer.largest_batch}")
    lane = getattr(app.state, "redemption_lane", None)
    if lane is not None:
        print(
            f"  lane: {lane.answered} answered in {lane.batches} batches"
            f" (largest {lane.largest}); the rest by the route"
        )
    for name in ("statements", "commits", "savepoints"):
        print(f"  {name} per request: {counts[name] / n:.2f}")
    for name, value in sorted(counts.items(), key=lambda x: -x[1]):
        if name.startswith("s: "):
            print(f"    {value / n:5.2f}  {name[3:]}")
    if args.trace:
        print("  the statements of the last requests, in order:")
        for line in TRACE[-args.trace :]:
            print("    " + line)
    if profile:
        stats = pstats.Stats(profile)
        profile.dump_stats("/tmp/profile_redemption.pstats")
        groups: collections.Counter[str] = collections.Counter()
        for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
            part = filename.split("site-packages/")[-1].split("/src/")[-1]
            groups["/".join(part.split("/")[:2])] += tottime
        print("  CPU by package (ms per request):")
        for name, value in groups.most_common(25):
            print(f"    {value / n * 1000:6.2f}  {name}")
        stats.sort_stats(args.sort).print_stats(args.top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--scenario", default="a")
    parser.add_argument("--merchants", type=int, default=2, help="(b)'s merchants")
    parser.add_argument("--amount", type=int, default=100)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--coalesce", type=int, default=32, help="members per batch; 1: off")
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--baseline", action="store_true", help="GET /v1/health instead")
    parser.add_argument("--trace", type=int, default=0, help="print the last N statements")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()
    name, url = httpbench.create_database("tongka_bench_profile")
    try:
        seed_args = argparse.Namespace(cards=args.cards, merchants=args.merchants, hot_units=1000)
        settings = Settings(database_url=url, secret_key=httpbench.SECRET)

        async def seed() -> dict[str, list[str]]:
            database = Database(create_engine_for(url))
            try:
                return await bench._seed(database, settings, seed_args)
            finally:
                await database.dispose()

        sets = asyncio.run(seed())
        asyncio.run(_run(args, url, sets))
    finally:
        httpbench.drop_database(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
