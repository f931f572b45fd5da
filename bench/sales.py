"""Sales benchmark over HTTP: paid top-ups end to end, and the notification path alone.

    .venv/bin/python bench/sales.py [--seconds 10] [--cards 1000] [--workers 2]
                                    [--concurrency 32] [--notifications 2000]

Creates a throw-away PostgreSQL database, seeds a merchant with a till key and ``--cards``
active cards (one batch: ``create_batch`` + ``run_batch`` + ``fund_batch``), starts the
sandbox gateway (``tongka sandbox-gateway``, one process: its payments live in memory) and
``uvicorn`` with ``--workers`` processes as production runs it, then drives it from
separate processes:

  (e) end to end, one paid top-up of ¥1 per flow: ``POST /v1/orders`` (the order and its
      WeChat Native payment at the gateway), ``POST /sandbox/payments/wechat/{id}/pay``
      (the payer confirms; the gateway delivers its signed, encrypted notification to
      ``/v1/channels/wechat/notify`` before it answers), ``GET /v1/orders/{id}`` — done
      when the order is ``fulfilled`` (the card credited). An asyncio/httpx generator with
      ``--concurrency`` flows in flight, in its own process.
  (n) the notification path alone: ``--notifications`` orders made beforehand, each
      one's signed notification built with the sandbox's own code and fired at the
      notify endpoint by ``wrk`` (a Lua script), every notification twice: a duplicate
      must credit nothing.

Prints flows or notifications per second, p50/p99, the ratios to the target (≥ 300 paid
top-ups/s, p99 < 200 ms) and to the in-run references of ``bench/redemption.py`` (the
ledger's batched posting rate, raw asyncpg single statements); checks that every card
was credited exactly once per paid order; then ``ledger verify``.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from httpbench import (  # noqa: E402 - bench/httpbench.py
    SECRET,
    bench_merchant,
    create_database,
    drop_database,
    ledger_reference,
    ledger_verify,
    load_average,
    server_env,
    start_server,
    stop,
    wait_until_serving,
)
from tongka.cards import service as cards  # noqa: E402
from tongka.cards.keys import card_keys  # noqa: E402
from tongka.cards.models import Card  # noqa: E402
from tongka.config import Settings  # noqa: E402
from tongka.db import Database  # noqa: E402
from tongka.db.engine import create_engine_for  # noqa: E402
from tongka.db.models import import_all_models  # noqa: E402
from tongka.identity.crypto import IdentityKeys  # noqa: E402
from tongka.identity.principal import SYSTEM  # noqa: E402

PORT = 18_741
GATEWAY_PORT = 18_742
TOP_UP_MINOR = 100
FACE_VALUE = 10_000
TARGET_PER_S = 300
TARGET_P99_MS = 200
console = Console(width=200)

# One line per notification: the path, the headers (name\x1fvalue, \x1e between), the body.
NOTIFY_LUA = r"""
local lines, counter = {}, 0
tid = "0"
ok, refused = 0, 0
local threads = {}
function setup(thread)
  thread:set("tid", tostring(#threads + 1))
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do table.insert(lines, line) end
  counter = tonumber(tid) - 1
end
function request()
  counter = counter + 2  -- two threads: one takes the odd lines, the other the even
  if counter > #lines then wrk.thread:stop() end
  local line = lines[math.min(counter, #lines)]
  local path, head, body = line:match("([^\t]+)\t([^\t]+)\t(.+)")
  local headers = {}
  for pair in head:gmatch("[^\30]+") do
    local name, value = pair:match("([^\31]+)\31(.*)")
    headers[name] = value
  end
  return wrk.format("POST", path, headers, body)
end
function response(status, headers, body)
  if status == 200 or status == 204 then ok = ok + 1 else refused = refused + 1 end
end
function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("ok"); r = r + t:get("refused") end
  io.write(string.format("RESULT %d %d %d %d %d %d\n", a, r,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration))
end
"""


@dataclass(frozen=True)
class Seeded:
    key: str
    card_ids: list[str]


async def _seed(database: Database, settings: Settings, count: int) -> Seeded:
    """A merchant, its till key, and ``count`` active cards of ¥100 (one batch, funded from
    the reserve in one ledger transaction)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(import_all_models().create_all)
    merchant_id, _, key = await bench_merchant(database, IdentityKeys.from_settings(settings), 0)
    now = datetime.now(UTC)
    async with database.transaction() as session:
        spec = cards.ProductSpec(
            name="Bench top-up",
            currency="CNY",
            bin_prefix="628870",
            number_length=16,
            max_balance=100_000,  # an anonymous card holds at most ¥1,000
            is_named=False,
            face_values=[FACE_VALUE],
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
            face_value=FACE_VALUE,
            export_password="bench password",
            actor="b",
            now=now,
        )
    await cards.run_batch(database, batch.id, keys=card_keys(settings), now=now)
    async with database.transaction() as session:
        await cards.fund_batch(
            session,
            batch.id,
            transfer_reference="BENCH",
            amount=count * FACE_VALUE,
            actor="b",
            now=now,
        )
        card_ids = list((await session.scalars(select(Card.id).order_by(Card.id))).all())
    return Seeded(key, card_ids)


# --- the load generator (its own process) ---------------------------------------------


def _order_body(card_id: str) -> dict[str, Any]:
    return {
        "kind": "top_up",
        "method": "native_qr",
        "channel": "wechat",
        "card_id": card_id,
        "amount": {"amount": TOP_UP_MINOR, "currency": "CNY"},
    }


async def _generate(plan: dict[str, Any]) -> dict[str, Any]:
    """``plan["mode"]``: ``flows`` (end to end for ``seconds``) or ``orders`` (make
    ``count`` orders, unpaid, and list their payments)."""
    import httpx

    app = f"http://127.0.0.1:{plan['port']}"
    gateway = f"http://127.0.0.1:{plan['gateway_port']}"
    headers = {"Authorization": f"Bearer {plan['key']}"}
    cards_ = plan["cards"]
    limits = httpx.Limits(max_connections=plan["concurrency"] * 2)
    latencies: list[float] = []
    made: list[dict[str, Any]] = []
    failures: dict[str, int] = {}
    counter = iter(range(10**9))

    def fail(what: str) -> None:
        failures[what] = failures.get(what, 0) + 1

    async with (
        httpx.AsyncClient(base_url=app, headers=headers, limits=limits, timeout=10) as api,
        httpx.AsyncClient(base_url=gateway, limits=limits, timeout=10) as payer,
    ):

        async def order(index: int) -> dict[str, Any] | None:
            response = await api.post(
                "/v1/orders",
                json=_order_body(cards_[index % len(cards_)]),
                headers={"Idempotency-Key": f"bench-{uuid.uuid4().hex}"},
            )
            if response.status_code != 201:
                fail(f"order {response.status_code}")
                return None
            data: dict[str, Any] = response.json()
            return data

        async def flow() -> None:
            started = time.perf_counter()
            created = await order(next(counter))
            if created is None:
                return
            paid = await payer.post(
                f"/sandbox/payments/wechat/{created['payment']['id']}/pay",
                json={"action": "confirm"},
            )
            deliveries = paid.json().get("deliveries", []) if paid.status_code == 200 else []
            if not deliveries or deliveries[0].get("status_code") not in (200, 204):
                fail("notify")
                return
            seen = await api.get(f"/v1/orders/{created['id']}")
            if seen.status_code != 200 or seen.json()["status"] != "fulfilled":
                fail("not fulfilled")
                return
            latencies.append(time.perf_counter() - started)

        async def worker(deadline: float) -> None:
            while time.perf_counter() < deadline:
                try:
                    await flow()
                except httpx.HTTPError as exc:
                    fail(exc.__class__.__name__)

        async def maker(queue: list[int]) -> None:
            while queue:
                index = queue.pop()
                try:
                    created = await order(index)
                except httpx.HTTPError as exc:
                    fail(exc.__class__.__name__)
                    continue
                if created is not None:
                    made.append({"order_id": created["id"], "payment_id": created["payment"]["id"]})

        began = time.perf_counter()
        if plan["mode"] == "flows":
            deadline = began + plan["seconds"]
            await asyncio.gather(*(worker(deadline) for _ in range(plan["concurrency"])))
        else:
            queue = list(range(plan["count"]))
            await asyncio.gather(*(maker(queue) for _ in range(plan["concurrency"])))
        elapsed = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "latencies": latencies,
        "made": made,
        "failures": failures,
        "elapsed": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def _in_own_process(plan: dict[str, Any]) -> dict[str, Any]:
    """Run the generator in a child process (the plan and its answer travel as JSON)."""
    with tempfile.TemporaryDirectory() as folder:
        plan_file, out_file = Path(folder) / "plan.json", Path(folder) / "out.json"
        plan_file.write_text(json.dumps(plan))
        subprocess.run(
            [sys.executable, __file__, "--generate", str(plan_file), str(out_file)], check=True
        )
        answer: dict[str, Any] = json.loads(out_file.read_text())
        return answer


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0


# --- the notification path: signed notifications built beforehand, fired by wrk --------


def _notification_lines(settings: Settings, made: list[dict[str, Any]]) -> list[str]:
    """Each made payment's success notification as the sandbox signs it, twice."""
    from tongka.payments.channel import ChannelName, FundingType
    from tongka.payments.keys import channel_keys
    from tongka.payments.sandbox.base import Faults
    from tongka.payments.sandbox.state import GatewayPayment, GatewayState, transaction_id
    from tongka.payments.sandbox.wechat import WeChatSandbox

    state = GatewayState()
    sandbox = WeChatSandbox(
        state, channel_keys(settings, ChannelName.WECHAT), settings.sandbox_gateway_url
    )
    now = datetime.now(UTC)
    lines = []
    for row in made:
        payment = GatewayPayment(
            channel=ChannelName.WECHAT,
            payment_id=row["payment_id"],
            amount_minor=TOP_UP_MINOR,
            currency="CNY",
            description="bench",
            notify_url="",
            method="NATIVE",
            created_at=now,
            status="SUCCEEDED",
            transaction_id=transaction_id("TX"),
            paid_at=now,
            funding_type=FundingType.BALANCE,
        )
        headers, body = sandbox.notifications(payment, Faults(duplicate=True))[0]
        head = "\x1e".join(f"{name}\x1f{value}" for name, value in headers.items())
        line = f"/v1/channels/wechat/notify\t{head}\t{body.decode()}"
        assert "\n" not in line
        lines += [line, line]
    return lines


def _wrk_notifications(lines: list[str], connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        script, data = Path(folder) / "n.lua", Path(folder) / "notifications.tsv"
        script.write_text(NOTIFY_LUA)
        data.write_text("\n".join(lines) + "\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                "-d60s",  # the script stops each thread once its lines are sent
                "--timeout",
                "5s",
                "-s",
                str(script),
                f"http://127.0.0.1:{PORT}",
                "--",
                str(data),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT"))
    ok, refused, p50, p99, sock, duration = (int(x) for x in line.split()[1:])
    seconds = duration / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "done": ok,
        "errors": refused + sock,
        "per_s": ok / seconds,
        "p50": p50 / 1000,
        "p99": p99 / 1000,
        "cpu": cpu / seconds,
    }


async def _credited(url: str) -> tuple[dict[str, int], int]:
    """Orders by status, and what the cards hold above their face values."""
    database = Database(create_engine_for(url))
    try:
        async with database.transaction() as session:
            statuses = dict(
                (await session.execute(text("SELECT status, count(*) FROM orders GROUP BY 1")))
                .tuples()
                .all()
            )
            held = await session.scalar(
                text(
                    "SELECT coalesce(sum(b.credits_posted - b.debits_posted), 0)"
                    " FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id"
                    " WHERE a.code = 'card'"
                )
            )
            count = await session.scalar(text("SELECT count(*) FROM cards"))
        return statuses, int(held or 0) - int(count or 0) * FACE_VALUE
    finally:
        await database.dispose()


def _start_gateway(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from tongka.cli import main; main()", "sandbox-gateway"]
        + ["--port", str(GATEWAY_PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="(e) end to end")
    parser.add_argument("--cards", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32, help="(e) flows in flight")
    parser.add_argument("--notifications", type=int, default=2_000, help="(n) orders")
    parser.add_argument("--connections", type=int, default=32, help="(n) wrk connections")
    parser.add_argument("--ledger-seconds", type=float, default=5.0)
    parser.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:  # the child process of _in_own_process
        plan = json.loads(Path(args.generate[0]).read_text())
        Path(args.generate[1]).write_text(json.dumps(asyncio.run(_generate(plan))))
        return 0
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    console.print(f"before: {load_average()}")
    name, url = create_database("tongka_bench_sales")
    data_dir = Path(tempfile.mkdtemp(prefix="tongka-bench-sales-"))
    extra = {
        "TONGKA_DATA_DIR": str(data_dir),
        "TONGKA_LOG_LEVEL": "WARNING",
        "TONGKA_SANDBOX_GATEWAY_URL": f"http://127.0.0.1:{GATEWAY_PORT}",
        "TONGKA_PAYMENTS_NOTIFY_BASE_URL": f"http://127.0.0.1:{PORT}",
    }
    env = server_env(url, **extra)
    settings = Settings(
        database_url=url,
        secret_key=SECRET,
        data_dir=data_dir,
        sandbox_gateway_url=extra["TONGKA_SANDBOX_GATEWAY_URL"],
        payments_notify_base_url=extra["TONGKA_PAYMENTS_NOTIFY_BASE_URL"],
    )
    server = gateway = None
    rows: dict[str, dict[str, float]] = {}
    try:
        began = time.perf_counter()

        async def seed() -> Seeded:
            database = Database(create_engine_for(url))
            try:
                return await _seed(database, settings, args.cards)
            finally:
                await database.dispose()

        seeded = asyncio.run(seed())
        console.print(f"seeded {len(seeded.card_ids)} cards in {time.perf_counter() - began:.1f} s")
        gateway = _start_gateway(env)
        wait_until_serving(gateway, GATEWAY_PORT, path="/healthz")
        server = start_server(env, PORT, args.workers)
        wait_until_serving(server, PORT)
        plan = {
            "port": PORT,
            "gateway_port": GATEWAY_PORT,
            "key": seeded.key,
            "cards": seeded.card_ids,
            "concurrency": args.concurrency,
        }
        flows = _in_own_process(plan | {"mode": "flows", "seconds": args.seconds})
        done = len(flows["latencies"])
        rows["e"] = {
            "done": done,
            "errors": sum(flows["failures"].values()),
            "per_s": done / flows["elapsed"],
            "p50": _percentile(flows["latencies"], 0.50),
            "p99": _percentile(flows["latencies"], 0.99),
            "cpu": flows["cpu"] / flows["elapsed"],
        }
        console.print(f"(e) {done} flows, failures: {flows['failures']}")
        console.print(f"after (e): {load_average()}")
        made = _in_own_process(plan | {"mode": "orders", "count": args.notifications})["made"]
        rows["n"] = _wrk_notifications(_notification_lines(settings, made), args.connections)
        console.print(f"after (n): {load_average()}")
    finally:
        stop(server)
        stop(gateway)
        if not rows:
            drop_database(name)
    statuses, credited = asyncio.run(_credited(url))
    paid = statuses.get("fulfilled", 0)
    once = credited == paid * TOP_UP_MINOR and statuses.get("fulfilled", 0) >= done + len(made)
    batched, raw = ledger_reference(args.ledger_seconds)
    table = Table(
        title=f"Sales over HTTP ({args.workers} uvicorn workers, sandbox gateway, "
        f"(e) {args.concurrency} flows in flight, (n) wrk -t2 -c{args.connections})"
    )
    for column in (
        "scenario",
        "per s",
        "done",
        "errors",
        "p50 ms",
        "p99 ms",
        "load CPU",
        "÷ target 300/s",
        "p99 ÷ 200 ms",
        "÷ ledger batched",
        "÷ raw asyncpg",
    ):
        table.add_column(column)
    names = {"e": "e: paid top-ups end to end", "n": "n: notifications (×2 each)"}
    for key, row in rows.items():
        table.add_row(
            names[key],
            f"{row['per_s']:.0f}",
            str(int(row["done"])),
            str(int(row["errors"])),
            f"{row['p50']:.1f}",
            f"{row['p99']:.1f}",
            f"{row['cpu']:.2f}",
            f"{row['per_s'] / TARGET_PER_S:.2f}",
            f"{row['p99'] / TARGET_P99_MS:.2f}",
            f"{row['per_s'] / batched:.3f}",
            f"{row['per_s'] / raw:.3f}",
        )
    console.print(table)
    console.print(f"ledger batched (c): {batched:.0f}/s; raw asyncpg (r): {raw:.0f}/s")
    console.print(
        f"orders: {statuses}; cards credited {credited} fen = {paid} paid × {TOP_UP_MINOR}"
        f" → each paid order credited once: {'yes' if once else 'NO'}"
    )
    ok, verified = ledger_verify(url)
    console.print(verified)
    console.print(f"end: {load_average()}")
    drop_database(name)
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if ok and once else 1


if __name__ == "__main__":
    sys.exit(main())
