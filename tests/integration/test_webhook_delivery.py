"""The delivery worker: signed POSTs, every attempt recorded, backoff, give-up, leases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.api_support import emit_event
from tests.receiver import Receiver, running_receiver
from tongka.clock import FixedClock, ensure_utc
from tongka.config import Settings
from tongka.db import Database
from tongka.webhooks import verify_signature
from tongka.webhooks.delivery import RETRY_WINDOW, claim_due, deliver_due
from tongka.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tongka.webhooks.service import create_endpoint, disable_endpoint
from tongka.worker import JOBS


@pytest.fixture(autouse=True)
def allow_loopback(settings: Settings) -> None:
    """These tests deliver to a receiver on 127.0.0.1."""
    settings.webhook_allow_loopback = True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


async def register(
    database: Database,
    settings: Settings,
    clock: FixedClock,
    url: str,
    *,
    merchant_id: str = "mch_a",
    events: tuple[str, ...] = ("card.frozen",),
) -> tuple[str, str]:
    async with database.transaction() as session:
        created = await create_endpoint(
            session,
            merchant_id=merchant_id,
            url=url,
            enabled_events=list(events),
            description="",
            actor="test",
            settings=settings,
            now=clock.now(),
        )
    return created.endpoint.id, created.secret


async def emit(
    database: Database, clock: FixedClock, type: str = "card.frozen", merchant_id: str = "mch_a"
) -> str:
    return await emit_event(
        database, clock, type=type, merchant_id=merchant_id, data={"reason": "lost"}
    )


async def deliveries(database: Database) -> list[WebhookDelivery]:
    async with database.transaction() as session:
        return list(await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def attempts(database: Database) -> list[WebhookAttempt]:
    async with database.transaction() as session:
        statement = select(WebhookAttempt).order_by(WebhookAttempt.attempted_at)
        return list(await session.scalars(statement))


def test_the_worker_runs_the_delivery_job() -> None:
    job = next(job for job in JOBS if job.name == "webhooks.deliver")
    assert job.resolve() is deliver_due


async def test_an_event_is_delivered_signed(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    # given an endpoint for card.frozen and one such event
    endpoint_id, secret = await register(database, settings, clock, receiver.url)
    event_id = await emit(database, clock)
    # when the worker runs
    assert await deliver_due(database, clock, settings) == 1
    # then the receiver got the event, signed with the endpoint's secret
    [received] = receiver.requests
    assert received.path == "/hooks"
    assert json.loads(received.body) == {
        "id": event_id,
        "type": "card.frozen",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {"reason": "lost"},
        "object_type": "card",
        "object_id": "card_1",
    }
    assert received.headers["Tongka-Event-Id"] == event_id
    assert received.headers["Content-Type"] == "application/json"
    verify_signature(
        received.body,
        received.headers["Tongka-Signature"],
        secret,
        now=clock.now().timestamp(),
    )
    [delivery] = await deliveries(database)
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.DELIVERED, 1)
    assert delivery.lease_token is None
    [attempt] = await attempts(database)
    assert (attempt.endpoint_id, attempt.event_id, attempt.status_code) == (
        endpoint_id,
        event_id,
        200,
    )
    assert attempt.succeeded is True
    assert attempt.response_body is not None
    assert len(attempt.response_body) == 1000
    # and nothing is left to do
    assert await deliver_due(database, clock, settings) == 0


async def test_only_wanted_events_of_the_own_merchant_are_delivered(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    await register(database, settings, clock, receiver.url, events=("card.frozen",))
    await emit(database, clock, type="card.activated")
    await emit(database, clock, merchant_id="mch_b")
    assert await deliveries(database) == []
    assert await deliver_due(database, clock, settings) == 0
    assert receiver.requests == []


async def test_a_failed_attempt_is_retried_with_backoff(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    # given a receiver that fails once
    await register(database, settings, clock, receiver.url)
    await emit(database, clock)
    receiver.statuses = [503]
    start = clock.now()
    # when the worker runs: the attempt fails and the next is about a minute later
    assert await deliver_due(database, clock, settings) == 1
    [delivery] = await deliveries(database)
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.PENDING, 1)
    delay = ensure_utc(delivery.next_attempt_at) - start
    assert timedelta(seconds=45) <= delay <= timedelta(seconds=75)
    # not due yet
    assert await deliver_due(database, clock, settings) == 0
    # when the time comes, the retry succeeds
    clock.advance(delay)
    assert await deliver_due(database, clock, settings) == 1
    [delivery] = await deliveries(database)
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.DELIVERED, 2)
    recorded = await attempts(database)
    assert [(a.attempt_number, a.status_code, a.succeeded) for a in recorded] == [
        (1, 503, False),
        (2, 200, True),
    ]
    assert len(receiver.requests) == 2


async def test_gives_up_after_three_days(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    await register(database, settings, clock, receiver.url)
    await emit(database, clock)
    created = clock.now()
    receiver.statuses = [500] * 100
    # when every attempt fails, the worker follows the schedule until it gives up
    for _ in range(60):
        await deliver_due(database, clock, settings)
        [delivery] = await deliveries(database)
        if delivery.status != DeliveryStatus.PENDING:
            break
        clock.current = ensure_utc(delivery.next_attempt_at)
    assert delivery.status == DeliveryStatus.FAILED
    recorded = await attempts(database)
    assert len(recorded) == delivery.attempt_count == len(receiver.requests)
    assert 15 <= len(recorded) <= 25  # 1 min doubling to 6 h, ±25 % jitter, over 3 days
    assert ensure_utc(recorded[-1].attempted_at) <= created + RETRY_WINDOW
    gaps = [
        ensure_utc(later.attempted_at) - ensure_utc(earlier.attempted_at)
        for earlier, later in zip(recorded, recorded[1:], strict=False)
    ]
    assert max(gaps) <= timedelta(hours=6) * 1.25
    assert await deliver_due(database, clock, settings) == 0


async def test_unreachable_and_slow_endpoints_are_recorded_as_errors(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    settings.webhook_timeout_seconds = 0.3
    receiver.delay_seconds = 1.0
    await register(database, settings, clock, receiver.url)
    await register(database, settings, clock, "http://127.0.0.1:9/closed")
    await emit(database, clock)
    assert await deliver_due(database, clock, settings) == 2
    recorded = await attempts(database)
    errors = sorted(attempt.error or "" for attempt in recorded)
    assert [attempt.status_code for attempt in recorded] == [None, None]
    assert errors[0].startswith("ConnectError")
    assert errors[1] == "timed out after 0.3 s"
    assert all(d.status == DeliveryStatus.PENDING for d in await deliveries(database))


async def test_disabling_an_endpoint_cancels_its_pending_deliveries(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    endpoint_id, _ = await register(database, settings, clock, receiver.url)
    await emit(database, clock)
    async with database.transaction() as session:
        await disable_endpoint(
            session, endpoint_id, merchant_id="mch_a", actor="test", now=clock.now()
        )
    await emit(database, clock)  # after disabling: no delivery at all
    assert [d.status for d in await deliveries(database)] == [DeliveryStatus.CANCELED]
    assert await deliver_due(database, clock, settings) == 0
    assert receiver.requests == []


async def test_production_refuses_to_deliver_into_the_local_network(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    await register(database, settings, clock, receiver.url)  # allowed in test mode
    await emit(database, clock)
    settings.environment = "production"
    assert await deliver_due(database, clock, settings) == 1
    [attempt] = await attempts(database)
    assert (attempt.error or "").startswith("refused: url: ")
    assert receiver.requests == []


async def test_a_claimed_delivery_is_not_claimed_again_during_its_lease(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    await register(database, settings, clock, receiver.url)
    await emit(database, clock)
    first = await database.run(lambda session: claim_due(session, settings, clock.now()))
    second = await database.run(lambda session: claim_due(session, settings, clock.now()))
    assert len(first) == 1
    assert second == []
    clock.advance(timedelta(seconds=61))  # the first worker died: the lease ends
    third = await database.run(lambda session: claim_due(session, settings, clock.now()))
    assert [claim.delivery_id for claim in third] == [first[0].delivery_id]


@pytest.mark.pg
async def test_concurrent_workers_deliver_each_event_once(
    pg_database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    # given 45 deliveries (more than two batches) and a slow receiver
    database = pg_database
    await register(database, settings, clock, receiver.url, events=("*",))
    for _ in range(44):
        await emit(database, clock)
    receiver.delay_seconds = 0.05

    # when four workers run at once until nothing is left
    async def worker() -> int:
        handled = 0
        while count := await deliver_due(database, clock, settings):
            handled += count
        return handled

    handled = await asyncio.gather(*(worker() for _ in range(4)))
    # then every event was delivered exactly once, never twice at the same time
    assert sum(handled) == 45
    event_ids = [request.headers["Tongka-Event-Id"] for request in receiver.requests]
    assert len(event_ids) == len(set(event_ids)) == 45
    assert receiver.max_in_flight_per_event == 1
    assert {d.status for d in await deliveries(database)} == {DeliveryStatus.DELIVERED}
    assert len(await attempts(database)) == 45
