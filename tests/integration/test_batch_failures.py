"""Batches reserve their numbers when created; a batch that keeps failing is parked.

A batch accepted is a batch that can be issued: its room in the BIN range is taken at
creation, so later batches and single cards cannot use it. A batch that fails anyway (an
old batch without a reservation, a broken database...) is retried with backoff and, after
``MAX_ATTEMPTS``, parked as ``failed`` with its error, without holding up newer batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.cards_support import MERCHANT, active_product, issue
from tongka.cards import numbers, service
from tongka.cards.errors import BinRangeExhausted
from tongka.cards.issuing import BatchStatus
from tongka.cards.jobs import issue_batches
from tongka.cards.models import Card, CardBatch, CardProduct
from tongka.cli import app
from tongka.cli.jobs import all_failed, retry_item
from tongka.clock import FixedClock
from tongka.config import Settings, get_settings
from tongka.db import Database, migrate
from tongka.worker import MAX_ATTEMPTS, backoff_seconds, next_attempt

PASSWORD = "a long export password"


async def product_with_room(database: Database, clock: FixedClock, room: int) -> str:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), bin_prefix="62990002")
        capacity = numbers.capacity(product.bin_prefix, product.number_length)
        await session.execute(
            update(CardProduct)
            .where(CardProduct.id == product.id)
            .values(issued_count=capacity - room)
        )
        return product.id


async def new_batch(database: Database, clock: FixedClock, product_id: str, count: int) -> str:
    async with database.transaction() as session:
        batch = await service.create_batch(
            session,
            product_id,
            merchant_id=MERCHANT,
            count=count,
            face_value=50_000,
            export_password=PASSWORD,
            actor="user:ops",
            now=clock.now(),
            chunk_size=4,
        )
        return batch.id


async def stored_batch(database: Database, batch_id: str) -> CardBatch:
    async with database.transaction() as session:
        return await session.get_one(CardBatch, batch_id)


async def test_a_batch_reserves_its_room_when_created(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    # given a product with room for 10 more cards and an unfinished batch of 6
    product_id = await product_with_room(database, clock, 10)
    first = await new_batch(database, clock, product_id, 6)
    # then a second batch of 6 is refused, naming count, and changes nothing
    with pytest.raises(BinRangeExhausted) as refused:
        await new_batch(database, clock, product_id, 6)
    assert refused.value.param == "count"
    assert refused.value.kind == "unprocessable"  # 422
    # and single cards get only the 4 the batch left
    for _ in range(4):
        async with database.transaction() as session:
            await issue(session, product_id, clock.now())
    with pytest.raises(BinRangeExhausted):
        async with database.transaction() as session:
            await issue(session, product_id, clock.now())
    # and the batch still issues all its cards, on numbers of its own
    await issue_batches(database, clock, settings)
    batch = await stored_batch(database, first)
    assert (batch.status, batch.issued_count) == (BatchStatus.COMPLETED, 6)
    async with database.transaction() as session:
        indexes = (await session.execute(select(Card.number_index))).scalars().all()
    assert len(indexes) == len(set(indexes)) == 10


async def test_a_batch_that_keeps_failing_is_parked_and_does_not_starve_newer_ones(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    # given an old batch without a reservation on a BIN range that has run out
    stuck_product = await product_with_room(database, clock, 8)
    stuck = await new_batch(database, clock, stuck_product, 8)
    async with database.transaction() as session:
        await session.execute(
            update(CardBatch).where(CardBatch.id == stuck).values(first_sequence=None)
        )
    # and a newer batch on another product
    async with database.transaction() as session:
        other_product = (await active_product(session, clock.now())).id
    newer = await new_batch(database, clock, other_product, 12)
    # when the job runs, waiting each time until the stuck batch is due again
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await issue_batches(database, clock, settings)
        batch = await stored_batch(database, stuck)
        assert batch.attempts == attempt
        assert "BIN range 62990002 has no room" in (batch.last_error or "")
        if attempt < MAX_ATTEMPTS:
            assert batch.status == BatchStatus.PENDING
            assert batch.next_attempt_at == clock.now() + timedelta(
                seconds=backoff_seconds(attempt)
            )
            # not tried again before it is due
            await issue_batches(database, clock, settings)
            assert (await stored_batch(database, stuck)).attempts == attempt
            clock.advance(timedelta(seconds=backoff_seconds(attempt)))
    # then the newer batch completed meanwhile, and the stuck one is parked with its error
    assert (await stored_batch(database, newer)).status == BatchStatus.COMPLETED
    batch = await stored_batch(database, stuck)
    assert batch.status == BatchStatus.FAILED
    assert batch.failed_at == clock.now()
    clock.advance(timedelta(days=1))
    await issue_batches(database, clock, settings)
    assert (await stored_batch(database, stuck)).attempts == MAX_ATTEMPTS
    # and an operator sees it, and can re-queue it
    [letter] = await all_failed(database)
    assert (letter.job, letter.id, letter.attempts) == ("cards.issue_batches", stuck, 8)
    assert "has no room" in letter.last_error
    assert await retry_item(database, stuck) == "cards.issue_batches"
    assert await retry_item(database, stuck) is None  # no longer failed
    batch = await stored_batch(database, stuck)
    assert (batch.status, batch.attempts, batch.next_attempt_at) == (BatchStatus.PENDING, 0, None)
    assert await all_failed(database) == []


def test_backoff_doubles_is_capped_and_parks_after_max_attempts() -> None:
    now = FixedClock().now()
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert backoff_seconds(50) == 600.0
    assert next_attempt(1, now) == now + timedelta(seconds=2)
    assert next_attempt(MAX_ATTEMPTS - 1, now) is not None
    assert next_attempt(MAX_ATTEMPTS, now) is None


@pytest.fixture
def migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("TONGKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TONGKA_SECRET_KEY", "cd" * 32)
    monkeypatch.delenv("TONGKA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    migrate.upgrade(get_settings().resolved_database_url)  # runs cards_0002 too
    yield get_settings()
    get_settings.cache_clear()


def test_tongka_jobs_failed_lists_and_retry_requeues(migrated: Settings) -> None:
    clock = FixedClock()

    async def park_a_batch() -> str:
        database = Database.from_settings(migrated)
        try:
            product_id = await product_with_room(database, clock, 5)
            batch_id = await new_batch(database, clock, product_id, 5)
            async with database.transaction() as session:
                await session.execute(
                    update(CardBatch)
                    .where(CardBatch.id == batch_id)
                    .values(status="failed", attempts=8, last_error="boom", failed_at=clock.now())
                )
            return batch_id
        finally:
            await database.dispose()

    runner = CliRunner()
    assert "no failed jobs" in runner.invoke(app, ["jobs", "failed"]).output
    batch_id = asyncio.run(park_a_batch())
    listed = runner.invoke(app, ["jobs", "failed"])
    assert listed.exit_code == 0
    assert batch_id in listed.output
    assert "boom" in listed.output
    retried = runner.invoke(app, ["jobs", "retry", batch_id])
    assert retried.exit_code == 0, retried.output
    assert "re-queued" in retried.output
    assert runner.invoke(app, ["jobs", "retry", batch_id]).exit_code == 1
    assert "no failed jobs" in runner.invoke(app, ["jobs", "failed"]).output
