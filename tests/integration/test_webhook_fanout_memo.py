"""Fan-out reads a merchant's enabled endpoints once per transaction, and sees the
transaction's own endpoint changes, a rolled-back savepoint and a new transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events import record_event
from tongka.webhooks.models import WebhookDelivery
from tongka.webhooks.service import create_endpoint, disable_endpoint


@contextmanager
def endpoint_reads(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM webhook_endpoints" in statement:
            seen.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def emit(session: AsyncSession, clock: FixedClock, merchant_id: str = "mch_a") -> str:
    recorded = await record_event(
        session,
        type="card.frozen",
        object_type="card",
        object_id="card_1",
        actor="test",
        now=clock.now(),
        merchant_id=merchant_id,
    )
    return recorded.id


async def endpoint(session: AsyncSession, settings: Settings, clock: FixedClock) -> str:
    created = await create_endpoint(
        session,
        merchant_id="mch_a",
        url="https://example.com/hook",
        enabled_events=["card.frozen"],
        description="",
        actor="test",
        settings=settings,
        now=clock.now(),
    )
    return created.endpoint.id


async def deliveries_of(database: Database, event_id: str) -> int:
    async with database.transaction() as session:
        count = await session.scalar(
            select(func.count()).where(WebhookDelivery.event_id == event_id)
        )
        return int(count or 0)


async def test_events_of_one_transaction_share_one_lookup(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    # given an endpoint of mch_a and one of no other merchant
    async with database.transaction() as session:
        await endpoint(session, settings, clock)
    # when one transaction records three events of mch_a and one of mch_b
    with endpoint_reads(database) as reads:
        async with database.transaction() as session:
            ids = [await emit(session, clock) for _ in range(3)]
            other = await emit(session, clock, merchant_id="mch_b")
    # then mch_a's endpoints were read once, mch_b's once, and every event got its delivery
    assert len(reads) == 2
    assert [await deliveries_of(database, event_id) for event_id in ids] == [1, 1, 1]
    assert await deliveries_of(database, other) == 0


async def test_an_endpoint_created_in_the_transaction_gets_its_later_events(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        before = await emit(session, clock)  # no endpoint yet: the memo holds none
        await endpoint(session, settings, clock)
        after = await emit(session, clock)
    assert await deliveries_of(database, before) == 0
    assert await deliveries_of(database, after) == 1


async def test_an_endpoint_disabled_in_the_transaction_gets_no_later_events(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        endpoint_id = await endpoint(session, settings, clock)
    async with database.transaction() as session:
        await emit(session, clock)  # the memo now holds the endpoint
        await disable_endpoint(
            session, endpoint_id, merchant_id="mch_a", actor="test", now=clock.now()
        )
        after = await emit(session, clock)
    assert await deliveries_of(database, after) == 0


async def test_a_rolled_back_savepoint_forgets_what_it_saw(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        try:
            async with session.begin_nested():
                await endpoint(session, settings, clock)
                await emit(session, clock)  # the memo now holds the new endpoint
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        after = await emit(session, clock)
    assert await deliveries_of(database, after) == 0  # the endpoint never existed


async def test_a_new_transaction_on_the_same_session_reads_again(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    async with database.sessionmaker() as session:
        async with session.begin():
            first = await emit(session, clock)  # none yet
        async with database.transaction() as other:
            await endpoint(other, settings, clock)  # committed by someone else
        async with session.begin():
            second = await emit(session, clock)
    assert await deliveries_of(database, first) == 0
    assert await deliveries_of(database, second) == 1
