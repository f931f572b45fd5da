"""Text messages to consumers' phones: a pluggable ``SmsSender``.

Why pluggable: the real gateway (Aliyun SMS, Tencent Cloud SMS...) is a payments-style
channel adapter that does not exist yet. Until one is registered with
``register_sms_sender``, development and test deliver into the ``sandbox_sms_messages``
table (the console's "Sandbox SMS" page lists it); production refuses to send, with a
clear error, rather than pretending.

The sender is called inside the caller's transaction. A message sent for a change that
then rolls back is harmless for sign-in codes (the code was never stored), which is the
only message there is today; anything else should go through the event outbox instead.
Message bodies may hold secrets (a sign-in code): never log them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.config import Settings
from tongka.errors import InvalidRequest, ServiceUnavailable
from tongka.identity.models import SandboxSmsMessage
from tongka.ids import new_id

log = structlog.get_logger(__name__)

_MAINLAND_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9][0-9]{9})$")


def _compact(phone: str) -> str:
    """Without the spaces, dashes and brackets people write numbers with."""
    return re.sub(r"[\s\-()]", "", phone)


def normalize_mobile(phone: str) -> str:
    """A mainland China mobile number as its 11 digits (``+86 138-0013-8000`` ->
    ``13800138000``); anything else is refused (we can only text those)."""
    match = _MAINLAND_MOBILE.fullmatch(_compact(phone or ""))
    if match is None:
        raise InvalidRequest(
            "A mainland China mobile number of 11 digits is required (e.g. 13800138000).",
            code="invalid_phone",
            param="phone",
        )
    return match.group(1)


def canonical_phone(phone: str) -> str:
    """How a consumer's phone is stored and looked up: a mainland mobile as its 11 digits
    (so ``+86 138-0013-8000`` and ``13800138000`` are one person), anything else with
    spaces and dashes removed."""
    try:
        return normalize_mobile(phone)
    except InvalidRequest:
        return _compact(phone)


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``: how a phone number appears in responses and logs."""
    if len(phone) < 8:
        return "****"
    return f"{phone[:3]}****{phone[-4:]}"


class SmsSender(Protocol):
    async def send(self, session: AsyncSession, *, phone: str, body: str, now: datetime) -> None:
        """Deliver ``body`` to ``phone`` (or raise a ``DomainError`` naming why not)."""


class SandboxSmsSender:
    """Development and test: the message lands in ``sandbox_sms_messages`` for the
    developer to read; only the masked number and the message id are logged."""

    async def send(self, session: AsyncSession, *, phone: str, body: str, now: datetime) -> None:
        message = SandboxSmsMessage(id=new_id("sms"), phone=phone, body=body, created_at=now)
        session.add(message)
        await session.flush()
        log.info("sms.sandbox_delivered", message_id=message.id, phone=mask_phone(phone))


_registered_sender: SmsSender | None = None


def register_sms_sender(sender: SmsSender | None) -> None:
    """Install the real gateway (a channel adapter calls this at start-up); None removes it."""
    global _registered_sender
    _registered_sender = sender


def sms_sender_for(settings: Settings) -> SmsSender:
    """The registered gateway; else the sandbox outside production; else a clear error."""
    if _registered_sender is not None:
        return _registered_sender
    if settings.environment != "production":
        return SandboxSmsSender()
    log.error("sms.no_sender_configured")
    raise ServiceUnavailable(
        "Text messages cannot be sent: no SMS gateway is configured in production.",
        code="sms_not_configured",
    )


def sandbox_messages_query() -> Select[tuple[SandboxSmsMessage]]:
    return select(SandboxSmsMessage)
