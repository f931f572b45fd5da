"""The delivery worker job: claim due deliveries, send them signed, record and reschedule.

Three steps, each short, so no transaction is open while waiting on a merchant's server:

1. **Claim** (one transaction): pick due pending deliveries and lease them — set
   ``locked_until = now + LEASE`` and a fresh ``lease_token``. On PostgreSQL the pick is
   ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent workers take disjoint batches without
   waiting; on SQLite the single writer serialises claims. Either way, after commit, other
   workers skip the leased rows until the lease ends. The lease (60 s) outlasts a send (at
   most ``webhook_timeout_seconds``, enforced as a total deadline), so several workers never
   deliver the same event to the same endpoint at the same time.
2. **Send** (no transaction): ``POST`` the event JSON with ``Tongka-Signature``; redirects
   are not followed; the first 1000 characters of the answer are kept.
3. **Record** (one transaction): an attempt row for every try; 2xx -> ``delivered``;
   otherwise the next try is scheduled with exponential backoff and jitter, and once that
   would fall beyond 3 days after the event the delivery is ``failed``. The update only
   applies while the worker still holds the lease (``lease_token``).
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import metrics
from tongka.clock import Clock, ensure_utc
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.events.payload import EventPayload
from tongka.ids import new_id
from tongka.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tongka.webhooks.service import signing_secrets
from tongka.webhooks.signing import SIGNATURE_HEADER, signature_header
from tongka.webhooks.urls import resolves_to_public

log = structlog.get_logger(__name__)

BATCH_SIZE = 20
MAX_BATCHES_PER_RUN = 5
LEASE = timedelta(seconds=60)
RETRY_WINDOW = timedelta(days=3)
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=6)
KEPT_RESPONSE_CHARACTERS = 1000
USER_AGENT = "Tongka-Webhooks/1"


@dataclass(frozen=True)
class Claim:
    delivery_id: str
    lease_token: str
    attempt_number: int
    created_at: datetime
    endpoint_id: str
    event_id: str
    url: str
    secrets: list[str]
    payload: bytes


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    response_body: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_delay(attempt_number: int, rng: random.Random | None = None) -> timedelta:
    """Wait after failed attempt ``n``: 1 min doubling up to 6 h, times a jitter of ±25 %."""
    base = min(FIRST_RETRY_DELAY * 2 ** (attempt_number - 1), MAX_RETRY_DELAY)
    return base * (rng or random).uniform(0.75, 1.25)


async def claim_due(session: AsyncSession, settings: Settings, now: datetime) -> list[Claim]:
    """Lease up to ``BATCH_SIZE`` due deliveries (see the module docstring)."""
    statement = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
            WebhookEndpoint.status == EndpointStatus.ENABLED,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(BATCH_SIZE)
    )
    if session.bind.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True, of=WebhookDelivery)
    deliveries = list(await session.scalars(statement))
    if not deliveries:
        return []
    events = {
        event.id: event
        for event in await session.scalars(
            select(Event).where(Event.id.in_({d.event_id for d in deliveries}))
        )
    }
    endpoints = {
        endpoint.id: endpoint
        for endpoint in await session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({d.endpoint_id for d in deliveries})
            )
        )
    }
    claims = []
    for delivery in deliveries:
        delivery.locked_until = now + LEASE
        delivery.lease_token = secrets.token_hex(16)
        endpoint = endpoints[delivery.endpoint_id]
        claims.append(
            Claim(
                delivery_id=delivery.id,
                lease_token=delivery.lease_token,
                attempt_number=delivery.attempt_count + 1,
                created_at=ensure_utc(delivery.created_at),
                endpoint_id=endpoint.id,
                event_id=delivery.event_id,
                url=endpoint.url,
                secrets=signing_secrets(endpoint, settings, now),
                payload=EventPayload.of(events[delivery.event_id]).to_json_bytes(),
            )
        )
    await session.flush()
    return claims


async def _read_some(response: httpx.Response) -> str:
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= KEPT_RESPONSE_CHARACTERS:
            break
    return kept.decode(errors="replace")[:KEPT_RESPONSE_CHARACTERS]


async def send(
    client: httpx.AsyncClient, claim: Claim, clock: Clock, settings: Settings
) -> Outcome:
    """One HTTP try; never raises (a failure is an outcome)."""
    attempted_at = clock.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Tongka-Event-Id": claim.event_id,
        "Tongka-Delivery-Id": claim.delivery_id,
        SIGNATURE_HEADER: signature_header(
            claim.payload, claim.secrets, int(attempted_at.timestamp())
        ),
    }
    started = time.monotonic()
    status_code: int | None = None
    body: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            if settings.environment == "production":
                await _refuse_private_destination(claim.url)
            async with client.stream(
                "POST", claim.url, content=claim.payload, headers=headers
            ) as response:
                status_code = response.status_code
                body = await _read_some(response)
    except TimeoutError:
        error = f"timed out after {settings.webhook_timeout_seconds:g} s"
    except Exception as exc:  # any failure to reach the endpoint is recorded and retried
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    return Outcome(claim, attempted_at, duration_ms, status_code, body, error)


async def _refuse_private_destination(url: str) -> None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not await resolves_to_public(parts.hostname or "", port):
        raise PermissionError("the endpoint's host resolves to a non-public address")


async def record_outcomes(
    session: AsyncSession, outcomes: list[Outcome], now: datetime, rng: random.Random | None = None
) -> None:
    for outcome in outcomes:
        claim = outcome.claim
        session.add(
            WebhookAttempt(
                id=new_id("wha"),
                delivery_id=claim.delivery_id,
                endpoint_id=claim.endpoint_id,
                event_id=claim.event_id,
                attempt_number=claim.attempt_number,
                attempted_at=outcome.attempted_at,
                status_code=outcome.status_code,
                duration_ms=outcome.duration_ms,
                error=outcome.error,
                response_body=outcome.response_body,
                succeeded=outcome.succeeded,
            )
        )
        values: dict[str, object] = {
            "attempt_count": claim.attempt_number,
            "last_attempt_at": outcome.attempted_at,
            "locked_until": None,
            "lease_token": None,
        }
        if outcome.succeeded:
            values.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
        else:
            next_attempt_at = now + retry_delay(claim.attempt_number, rng)
            if next_attempt_at > claim.created_at + RETRY_WINDOW:
                values.update(status=DeliveryStatus.FAILED)
            else:
                values.update(next_attempt_at=next_attempt_at)
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claim.delivery_id,
                WebhookDelivery.lease_token == claim.lease_token,
            )
            .values(**values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            log.warning("webhooks.lease_lost", delivery=claim.delivery_id)


async def deliver_batch(database: Database, clock: Clock, settings: Settings) -> int:
    """Claim, send and record one batch of due deliveries; returns how many."""
    claims = await database.run(lambda session: claim_due(session, settings, clock.now()))
    if not claims:
        return 0
    # no redirects (they could lead into the local network); no proxies from the environment
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
    ) as client:
        outcomes = await asyncio.gather(*(send(client, claim, clock, settings) for claim in claims))
    await database.run(lambda session: record_outcomes(session, list(outcomes), clock.now()))
    metrics.count_webhook_outcomes(outcomes)
    for outcome in outcomes:
        log.info(
            "webhooks.attempt",
            delivery=outcome.claim.delivery_id,
            endpoint=outcome.claim.endpoint_id,
            attempt=outcome.claim.attempt_number,
            status_code=outcome.status_code,
            error=outcome.error,
        )
    return len(claims)


async def deliver_due(database: Database, clock: Clock, settings: Settings) -> int:
    """Worker job ``webhooks.deliver``: batches until none is full (at most
    ``MAX_BATCHES_PER_RUN``, so one run stays bounded); returns how many were handled."""
    handled = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        count = await deliver_batch(database, clock, settings)
        handled += count
        if count < BATCH_SIZE:
            break
    return handled
