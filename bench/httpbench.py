"""What the HTTP benchmarks share (``bench/redemption.py``, ``bench/sales.py``): a
throw-away PostgreSQL database, an approved merchant with a store and a till key, the
server started as production runs it (``uvicorn`` with several workers), the in-run
reference rates of ``bench/ledger.py`` and ``ledger verify`` at the end."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from tongka.db import Database
from tongka.db.engine import create_engine_for
from tongka.identity import service as identity
from tongka.identity.credit_code import check_character
from tongka.identity.crypto import IdentityKeys
from tongka.ledger.verify import verify_ledger

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SECRET = "ab" * 32


async def admin(statement: str) -> None:
    engine = create_engine_for(ADMIN_URL)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(statement))
    await engine.dispose()


def create_database(prefix: str) -> tuple[str, str]:
    """A new empty database: (its name, its URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    return name, ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def server_env(url: str, **extra: str) -> dict[str, str]:
    """The server's environment: the database, a fixed secret, no rate limits."""
    return (
        os.environ
        | {
            "TONGKA_DATABASE_URL": url,
            "TONGKA_SECRET_KEY": SECRET,
            "TONGKA_RATE_LIMIT_PER_KEY": "1000000/second",
            "TONGKA_RATE_LIMIT_PER_IP": "1000000/second",
            "PYTHONPATH": str(ROOT / "src"),
        }
        | extra
    )


def start_server(env: Mapping[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    """``uvicorn tongka.api.app:create_app`` with ``workers`` processes, uvloop, httptools,
    no access log — as production runs it."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tongka.api.app:create_app",
            "--factory",
            "--workers",
            str(workers),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        env=dict(env),
    )


def wait_until_serving(
    server: subprocess.Popen[bytes], port: int, *, path: str = "/v1/health", seconds: float = 60
) -> None:
    """Until every worker can answer (a fixed sleep was too short on a busy machine)."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code < 500:
                time.sleep(2)  # the other workers start at about the same time
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not start")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a process this bench started; kill it if it will not go."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


async def bench_merchant(
    database: Database, keys: IdentityKeys, index: int
) -> tuple[str, str, str]:
    """An approved merchant with a store and a cashier key bound to it:
    (merchant id, store id, key secret)."""
    base = f"9131000000{index:07d}"
    details = identity.MerchantRegistration(
        legal_name=f"基准商户{index}有限公司",
        credit_code=base + check_character(base),
        contact_name="张三",
        contact_phone="13800138000",
        contact_email=f"bench{index}@example.com",
        admin_email=f"admin{index}@example.com",
        admin_password="Bench-password-2026!",
    )
    now = datetime.now(UTC)
    async with database.transaction() as session:
        merchant, _ = await identity.register_merchant(session, keys, details, now=now)
        await identity.review_merchant(session, merchant.id, "approve", actor="b", now=now)
        store = await identity.create_store(
            session,
            merchant_id=merchant.id,
            name="门店",
            address="南京东路1号",
            city="上海",
            actor="b",
            now=now,
        )
        key = await identity.create_api_key(
            session,
            keys,
            name="till",
            role="cashier",
            merchant_id=merchant.id,
            store_id=store.id,
            actor="b",
            now=now,
        )
    return merchant.id, store.id, key.secret


def ledger_reference(seconds: float) -> tuple[float, float]:
    """bench/ledger.py's (c) batched and (r) raw asyncpg rates, in this run."""
    import ledger as ledger_bench  # bench/ledger.py

    name, url = create_database("tongka_bench")
    try:
        asyncio.run(ledger_bench.prepare(url))
        batched = ledger_bench.Scenario("c", "batched", 2, 100, False, 0, "-")
        raw = ledger_bench.Scenario("r", "raw", 32, 0, False, 0, "-", mode="raw")
        rates = [ledger_bench.run_scenario(url, s, 2, seconds).per_second for s in (batched, raw)]
    finally:
        drop_database(name)
    return rates[0], rates[1]


def ledger_verify(url: str) -> tuple[bool, str]:
    """``ledger verify`` on the bench's database: (ok, one line of its checks)."""

    async def check() -> tuple[bool, list[str]]:
        database = Database(create_engine_for(url))
        try:
            async with database.transaction() as session:
                report = await verify_ledger(session, datetime.now(UTC))
            return report.ok, [f"{c.name}: {'ok' if c.ok else 'FAILED'}" for c in report.checks]
        finally:
            await database.dispose()

    ok, lines = asyncio.run(check())
    return ok, "ledger verify: " + ("ok" if ok else "FAILED") + " — " + "; ".join(lines)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"
