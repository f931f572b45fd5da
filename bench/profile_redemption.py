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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402

import httpbench  # noqa: E402  (bench/httpbench.py)
import redemption as bench  # noqa: E402  (bench/redemption.py)
from profiling import (  # noqa: E402  (bench/profiling.py)
    StatementCounter,
    print_counts,
    print_cprofile,
    print_run,
    run_clients,
)
from tongka.api.app import create_app  # noqa: E402
from tongka.config import Settings  # noqa: E402
from tongka.db import Database  # noqa: E402
from tongka.db.engine import create_engine_for  # noqa: E402


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
        counter = StatementCounter(trace=[] if args.trace else None).listen(database)
        answers.clear()
        profile = cProfile.Profile() if args.cprofile else None
        timed = await run_clients(range(args.requests), one, clients=args.clients, profile=profile)
        counts = counter.take()
    await database.dispose()
    n = args.requests
    print_run(timed)
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
    print_counts(counts, n)
    if args.trace and counter.trace is not None:
        print("  the statements of the last requests, in order:")
        for line in counter.trace[-args.trace :]:
            print("    " + line)
    if profile:
        print_cprofile(
            profile, n, dump="/tmp/profile_redemption.pstats", sort=args.sort, top=args.top
        )


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
