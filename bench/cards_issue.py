"""Benchmark: issue 100,000 cards as one batch on PostgreSQL (target: under 60 seconds).

Run: ``.venv/bin/python bench/cards_issue.py [--count N] [--chunk-size N]``. Creates a
throw-away database on ``TONGKA_TEST_DATABASE_URL`` (default: the local server), issues a
batch through the same code the worker and ``tongka cards issue-batch`` use (chunked
transactions, sealed export segments), takes the export and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import service
from tongka.cards.keys import CardKeys
from tongka.cards.models import Card
from tongka.db import Database
from tongka.db.engine import create_engine_for
from tongka.db.models import import_all_models
from tongka.identity.credit_code import check_character
from tongka.identity.models import Merchant, MerchantStatus
from tongka.identity.principal import SYSTEM

ADMIN_URL = os.environ.get(
    "TONGKA_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
TARGET_CARDS = 100_000
TARGET_SECONDS = 60.0


async def _admin(statement: str) -> None:
    engine = create_engine_for(ADMIN_URL)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(statement))
    await engine.dispose()


async def _bench_merchant(session: AsyncSession, now: datetime) -> None:
    """The issuer ``mch_bench``: quotas and products are refused for merchants that do not
    exist, so the throw-away database gets an active one."""
    session.add(
        Merchant(
            id="mch_bench",
            legal_name="基准测试有限公司",
            credit_code="91310000000000001" + check_character("91310000000000001"),
            contact_name="张三",
            contact_phone="13800138000",
            contact_email="bench@example.com",
            status=MerchantStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()


async def bench(count: int, chunk_size: int, activate: bool) -> None:
    name = f"tongka_bench_cards_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    database = Database(create_engine_for(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"))
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(import_all_models().create_all)
        keys = CardKeys.from_root(os.urandom(32))
        now = datetime.now(UTC)
        async with database.transaction() as session:
            await _bench_merchant(session, now)
            spec = service.ProductSpec(
                name="Bench",
                currency="CNY",
                bin_prefix="628899",
                number_length=16,
                max_balance=100_000,
                is_named=False,
                face_values=[10_000],
                validity_months=36,
            )
            product = await service.create_product(session, "mch_bench", spec, actor="b", now=now)
            await service.submit_product(session, product.id, merchant_id=None, actor="b", now=now)
            await service.review_product(
                session, product.id, is_approved=True, note=None, principal=SYSTEM, now=now
            )
            batch = await service.create_batch(
                session,
                product.id,
                merchant_id=None,
                count=count,
                face_value=10_000,
                export_password="benchmark password",
                actor="b",
                now=now,
                chunk_size=chunk_size,
            )
        started = time.perf_counter()
        await service.run_batch(database, batch.id, keys=keys, now=now)
        issued_seconds = time.perf_counter() - started
        async with database.transaction() as session:
            content = await service.take_export(
                session, batch.id, merchant_id=None, actor="b", now=now
            )
            stored = (await session.execute(select(func.count()).select_from(Card))).scalar_one()
        total_seconds = time.perf_counter() - started
        assert stored == count, (stored, count)
        activation_seconds = None
        if activate:
            async with database.transaction() as session:
                await service.set_quota(session, "mch_bench", "CNY", 10**15, actor="b", now=now)
            started = time.perf_counter()
            async with database.transaction() as session:
                await service.fund_batch(
                    session,
                    batch.id,
                    transfer_reference="BENCH",
                    amount=count * 10_000,
                    actor="b",
                    now=now,
                )
            activation_seconds = time.perf_counter() - started
    finally:
        await database.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rate = count / issued_seconds
    needed = TARGET_CARDS / TARGET_SECONDS
    table = Table(title=f"Card issuing: one batch of {count:,} cards (chunks of {chunk_size:,})")
    for column in ("cards", "issue s", "with export s", "cards/s", "target cards/s", "ratio"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{count:,}",
        f"{issued_seconds:.1f}",
        f"{total_seconds:.1f}",
        f"{rate:,.0f}",
        f"{needed:,.0f}",
        f"{rate / needed:.2f}x",
    )
    Console().print(table)
    Console().print(f"export file: {len(content) / 1e6:.1f} MB")
    if activation_seconds is not None:
        Console().print(
            f"batch activation (bank transfer; {2 * count:,} ledger accounts opened, "
            f"{count:,} transfers in one ledger transaction): {activation_seconds:.1f} s "
            f"({count / activation_seconds:,.0f} cards/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=TARGET_CARDS)
    parser.add_argument("--chunk-size", type=int, default=service.DEFAULT_CHUNK_SIZE)
    parser.add_argument(
        "--activate", action="store_true", help="Also time the batch's activation (ledger)."
    )
    arguments = parser.parse_args()
    asyncio.run(bench(arguments.count, arguments.chunk_size, arguments.activate))


if __name__ == "__main__":
    main()
