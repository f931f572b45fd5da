"""Where one paid top-up's time goes: statements, commits and CPU per request (PostgreSQL).

    .venv/bin/python bench/profile_sales.py [--requests 200] [--clients 8] [--cards 200]
                                            [--phase orders|notify|duplicates|read] [--cprofile]

Seeds a throw-away database with ``bench/sales.py``'s helper (a merchant, its till key,
``--cards`` active cards of one batch), runs the app and the sandbox gateway in process
(httpx over ASGI, no sockets) and times, one phase after the other:

  (i)   orders — ``POST /v1/orders``: a ¥1 top-up by WeChat Native, its payment created
        at the in-process gateway. The process's CPU includes the channel call (the
        adapter signs, the gateway verifies and signs its answer, the adapter verifies
        it); that part alone is measured first (``channel call alone``) and shown apart.
  (ii)  notify — each order's signed success notification (built with the sandbox's own
        code, ``bench/sales_notify.py``) to ``POST /v1/channels/wechat/notify``: the
        payment settled, the card credited, the order fulfilled, the receipt issued.
  (iii) duplicates — the same notifications again: each must credit nothing.
  (iv)  read — ``GET /v1/orders/{id}`` (the last step of bench/sales.py's flow).

CPU per request: the whole process's (the httpx client, the app and, for orders, the
in-process gateway) and, with ``--clients 1``, the app's alone (an ASGI wrapper). Counts
statements, commits and savepoints per request (``bench/profiling.py``) and prints
a summary table; ``--phase`` prints one phase's statements by kind (and ``--trace N`` its
last N statements in order); ``--cprofile`` profiles that phase.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402

import httpbench  # noqa: E402  (bench/httpbench.py)
import sales as bench  # noqa: E402  (bench/sales.py)
from profiling import (  # noqa: E402  (bench/profiling.py)
    StatementCounter,
    Timed,
    print_counts,
    print_cprofile,
    run_clients,
)
from sales_notify import notification_lines  # noqa: E402
from tongka.api.app import create_app  # noqa: E402
from tongka.config import Settings  # noqa: E402
from tongka.db import Database  # noqa: E402
from tongka.db.engine import create_engine_for  # noqa: E402
from tongka.payments import registry  # noqa: E402
from tongka.payments.adapters import build_channels  # noqa: E402
from tongka.payments.channel import ChannelName, PaymentMethod, PaymentRequest  # noqa: E402
from tongka.payments.sandbox.app import create_gateway  # noqa: E402

GATEWAY_URL = "http://sandbox-gateway.test"


class ServerClock:
    """This process's CPU spent inside the app (an ASGI wrapper): with one client the app
    runs alone between the client's steps, so this is the server's part of the request
    (and, for an order, the in-process gateway's); with more clients the tasks interleave
    and it means nothing."""

    def __init__(self, app: Any) -> None:
        self.app, self.cpu = app, 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        began = time.process_time()
        try:
            await self.app(scope, receive, send)
        finally:
            self.cpu += time.process_time() - began


APP_URL = "http://tongka.test"
PHASES = ("orders", "notify", "duplicates", "read")


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        secret_key=httpbench.SECRET,
        data_dir=data_dir,
        sandbox_gateway_url=GATEWAY_URL,
        payments_notify_base_url=APP_URL,
        rate_limit_per_key="1000000/second",
        rate_limit_per_ip="1000000/second",
        log_level="WARNING",
    )


async def _channel_alone(channels: Any, count: int) -> float:
    """CPU ms of one WeChat Native payment creation at the in-process gateway, no app."""
    wechat = channels[ChannelName.WECHAT]
    began = time.process_time()
    for _ in range(count):
        await wechat.create_payment(
            PaymentRequest(
                payment_id=f"pay_alone{uuid.uuid4().hex[:16]}",
                amount_minor=bench.TOP_UP_MINOR,
                currency="CNY",
                description="bench",
                method=PaymentMethod.NATIVE_QR,
                expires_at=datetime.now(UTC) + timedelta(minutes=15),
                notify_url=f"{APP_URL}/v1/channels/wechat/notify",
            )
        )
    return (time.process_time() - began) / count * 1000


async def _run(args: argparse.Namespace, url: str, settings: Settings, seeded: Any) -> None:
    database = Database(create_engine_for(url))
    app = create_app(settings, database=database)
    server = ServerClock(app)
    app_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url=APP_URL)
    gateway = create_gateway(settings, notify_http=app_http)
    gateway_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url=GATEWAY_URL
    )
    channels = build_channels(settings, http=gateway_http)
    headers = {"Authorization": f"Bearer {seeded.key}"}
    cards = seeded.card_ids
    made: list[dict[str, str]] = []
    answers: collections.Counter[str] = collections.Counter()
    rows: dict[str, tuple[Timed, collections.Counter[str], float]] = {}
    counter = StatementCounter(trace=[] if args.trace else None, on=False).listen(database)
    try:
        with registry.override_channels(channels):

            async def order(i: int) -> None:
                response = await app_http.post(
                    "/v1/orders",
                    json=bench._order_body(cards[i % len(cards)]),
                    headers=headers | {"Idempotency-Key": f"p-{uuid.uuid4().hex}"},
                )
                answers[f"order {response.status_code}"] += 1
                if response.status_code == 201 and i >= 0:
                    body = response.json()
                    made.append({"order_id": body["id"], "payment_id": body["payment"]["id"]})

            lines: list[str] = []

            async def notify(i: int) -> None:
                path, head, body = lines[i].split("\t")
                sent = dict(pair.split("\x1f", 1) for pair in head.split("\x1e"))
                response = await app_http.post(path, headers=sent, content=body.encode())
                answers[f"notify {response.status_code}"] += 1

            async def read(i: int) -> None:
                response = await app_http.get(f"/v1/orders/{made[i]['order_id']}", headers=headers)
                status = response.json().get("status") if response.status_code == 200 else None
                answers[f"read {response.status_code} {status}"] += 1

            alone = await _channel_alone(channels, 20)
            for i in range(10):  # warm-up (caches, prepared statements)
                await order(-1 - i)

            async def phase(name: str, jobs: range, one: Any) -> None:
                profile = (
                    cProfile.Profile(time.process_time)  # CPU, not wall (waits are not cost)
                    if args.cprofile and args.phase == name
                    else None
                )
                counter.take()
                counter.on = True
                server.cpu = 0.0
                timed = await run_clients(jobs, one, clients=args.clients, profile=profile)
                counter.on = False
                counts = counter.take() if args.phase != name or not args.trace else counter.counts
                rows[name] = (timed, counts, server.cpu / timed.requests * 1000)
                if args.phase == name:
                    print(f"--- {name}: statements by kind, per request")
                    print_counts(counts, timed.requests)
                    if args.trace and counter.trace is not None:
                        for line in counter.trace[-args.trace :]:
                            print("    " + line)
                        counter.take()
                    if profile:
                        print_cprofile(
                            profile,
                            timed.requests,
                            dump=f"/tmp/profile_sales_{name}.pstats",
                            sort=args.sort,
                            top=args.top,
                        )

            await phase("orders", range(args.requests), order)
            pairs = notification_lines(settings, made, bench.TOP_UP_MINOR)
            lines[:] = pairs[::2]  # each notification once; its copy in the next phase
            await phase("notify", range(len(lines)), notify)
            await phase("duplicates", range(len(lines)), notify)
            await phase("read", range(len(made)), read)
    finally:
        await gateway.state.gateway.drain()
        await gateway_http.aclose()
        await app_http.aclose()
        await database.dispose()
    statuses, credited = await bench._credited(url)
    print(f"answers: {dict(answers)}")
    paid = statuses.get("fulfilled", 0)
    print(
        f"orders: {statuses}; cards credited {credited} fen for {paid} fulfilled:"
        f" each credited once: {'yes' if credited == paid * bench.TOP_UP_MINOR else 'NO'}"
    )
    print()
    print(
        f"| phase ({args.clients} clients) | requests | per s | wall ms | CPU ms (process)"
        " | CPU ms (app) | statements | commits | savepoints |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in PHASES:
        timed, counts, app_cpu = rows[name]
        n = timed.requests
        label = {
            "orders": "(i) POST /v1/orders (top-up, WeChat Native)",
            "notify": "(ii) notification, first copy",
            "duplicates": "(iii) notification, duplicate",
            "read": "(iv) GET /v1/orders/{id}",
        }[name]
        inside = "—"
        if args.clients == 1:
            inside = f"{app_cpu:.1f}"
            if name == "orders":
                inside += f" (incl. the channel call, alone ~{alone:.1f})"
        print(
            f"| {label} | {n} | {timed.per_second:.0f} | {timed.wall_ms:.1f}"
            f" | {timed.cpu_ms:.1f} | {inside}"
            f" | {counts['statements'] / n:.1f} | {counts['commits'] / n:.2f}"
            f" | {counts['savepoints'] / n:.2f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--phase", choices=PHASES, help="print this phase's statements")
    parser.add_argument("--trace", type=int, default=0, help="with --phase: last N statements")
    parser.add_argument("--cprofile", action="store_true", help="with --phase")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()
    print(f"before: {httpbench.load_average()}")
    name, url = httpbench.create_database("tongka_bench_profile_sales")
    data_dir = Path(tempfile.mkdtemp(prefix="tongka-profile-sales-"))
    try:
        settings = _settings(url, data_dir)

        async def seed() -> Any:
            database = Database(create_engine_for(url))
            try:
                return await bench._seed(database, settings, args.cards)
            finally:
                await database.dispose()

        seeded = asyncio.run(seed())
        asyncio.run(_run(args, url, settings, seeded))
    finally:
        httpbench.drop_database(name)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"after: {httpbench.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
