"""Webhook endpoint use cases. Services take a session and ``now`` and never commit.

``merchant_id`` arguments scope every read: ``None`` means a platform caller (sees all); a
merchant never finds another merchant's endpoint (``NotFound``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.config import Settings
from tongka.crypto import SecretBox
from tongka.errors import BusinessRuleViolation, InvalidRequest, NotFound
from tongka.events import record_event
from tongka.events.service import EVENT_TYPE_PATTERN
from tongka.ids import new_id
from tongka.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tongka.webhooks.urls import validate_endpoint_url

SECRET_PREFIX = "whsec_"
ALL_EVENTS = "*"
MAX_EVENT_TYPES = 100


@dataclass(frozen=True)
class EndpointWithSecret:
    """An endpoint and its signing secret in clear: returned once, on create and rotate."""

    endpoint: WebhookEndpoint
    secret: str


def _box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_key_bytes(), "webhook-endpoint-secrets")


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _validated_event_types(enabled_events: Sequence[str]) -> list[str]:
    types = sorted({event_type.strip() for event_type in enabled_events})
    malformed = [t for t in types if t != ALL_EVENTS and not re.fullmatch(EVENT_TYPE_PATTERN, t)]
    if not types or len(types) > MAX_EVENT_TYPES or malformed:
        raise InvalidRequest(
            f"enabled_events: give 1 to {MAX_EVENT_TYPES} event types (like card.frozen), "
            "or '*' for all.",
            code="validation_failed",
            param="enabled_events",
        )
    return [ALL_EVENTS] if ALL_EVENTS in types else types


async def create_endpoint(
    session: AsyncSession,
    *,
    merchant_id: str,
    url: str,
    enabled_events: Sequence[str],
    description: str,
    actor: str,
    settings: Settings,
    now: datetime,
) -> EndpointWithSecret:
    endpoint_id = new_id("we")
    secret = _new_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        merchant_id=merchant_id,
        url=validate_endpoint_url(url, settings),
        description=description,
        enabled_events=_validated_event_types(enabled_events),
        status=EndpointStatus.ENABLED,
        sealed_secret=_box(settings).seal(secret.encode(), context=endpoint_id),
        created_at=now,
    )
    session.add(endpoint)
    await session.flush()
    await _record(session, endpoint, "webhook_endpoint.created", actor, now)
    return EndpointWithSecret(endpoint, secret)


def endpoints_query(merchant_id: str | None) -> Select[tuple[WebhookEndpoint]]:
    """Endpoints the caller may see: a merchant's own, or all for the platform (``None``)."""
    statement = select(WebhookEndpoint)
    if merchant_id is None:
        return statement
    return statement.where(WebhookEndpoint.merchant_id == merchant_id)


async def get_endpoint(
    session: AsyncSession, endpoint_id: str, *, merchant_id: str | None, for_update: bool = False
) -> WebhookEndpoint:
    statement = endpoints_query(merchant_id).where(WebhookEndpoint.id == endpoint_id)
    if for_update:
        statement = statement.with_for_update()
    endpoint = (await session.scalars(statement)).one_or_none()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", code="webhook_endpoint_not_found", param="id")
    return endpoint


def available_actions(endpoint: WebhookEndpoint) -> list[str]:
    """An enabled endpoint can get a new secret or be disabled; a disabled one stays so
    (disabling is irreversible: there is no enable)."""
    return ["rotate_secret", "disable"] if endpoint.status == EndpointStatus.ENABLED else []


async def disable_endpoint(
    session: AsyncSession,
    endpoint_id: str,
    *,
    merchant_id: str | None,
    actor: str,
    now: datetime,
) -> WebhookEndpoint:
    """Stop deliveries to the endpoint; its pending deliveries are canceled. Irreversible."""
    endpoint = await get_endpoint(session, endpoint_id, merchant_id=merchant_id, for_update=True)
    if endpoint.status == EndpointStatus.DISABLED:
        return endpoint
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_at = now
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.CANCELED, locked_until=None, lease_token=None)
    )
    await session.flush()
    await _record(session, endpoint, "webhook_endpoint.disabled", actor, now)
    return endpoint


async def rotate_secret(
    session: AsyncSession,
    endpoint_id: str,
    *,
    merchant_id: str | None,
    previous_valid_for: timedelta,
    actor: str,
    settings: Settings,
    now: datetime,
) -> EndpointWithSecret:
    """A new secret signs from now on; the old one also signs for ``previous_valid_for``.

    The overlap lets the merchant deploy the new secret without refusing deliveries in
    between; zero ends the old secret at once (e.g. when it leaked).
    """
    endpoint = await get_endpoint(session, endpoint_id, merchant_id=merchant_id, for_update=True)
    if endpoint.status == EndpointStatus.DISABLED:
        raise BusinessRuleViolation(
            "A disabled webhook endpoint has no secret to rotate.",
            code="webhook_endpoint_disabled",
        )
    box = _box(settings)
    secret = _new_secret()
    if previous_valid_for > timedelta(0):
        endpoint.sealed_previous_secret = endpoint.sealed_secret
        endpoint.previous_secret_expires_at = now + previous_valid_for
    else:
        endpoint.sealed_previous_secret = None
        endpoint.previous_secret_expires_at = None
    endpoint.sealed_secret = box.seal(secret.encode(), context=endpoint.id)
    await session.flush()
    await _record(session, endpoint, "webhook_endpoint.secret_rotated", actor, now)
    return EndpointWithSecret(endpoint, secret)


def signing_secrets(endpoint: WebhookEndpoint, settings: Settings, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and a rotated one in grace."""
    box = _box(settings)
    found = [box.open(endpoint.sealed_secret, context=endpoint.id).decode()]
    expires_at = endpoint.previous_secret_expires_at
    if endpoint.sealed_previous_secret is not None and expires_at and ensure_utc(expires_at) > now:
        found.append(box.open(endpoint.sealed_previous_secret, context=endpoint.id).decode())
    return found


def attempts_query(endpoint_id: str) -> Select[tuple[WebhookAttempt]]:
    return select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)


async def _record(
    session: AsyncSession, endpoint: WebhookEndpoint, type: str, actor: str, now: datetime
) -> None:
    await record_event(
        session,
        type=type,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        actor=actor,
        now=now,
        merchant_id=endpoint.merchant_id,
        data={"url": endpoint.url, "enabled_events": endpoint.enabled_events},
    )
