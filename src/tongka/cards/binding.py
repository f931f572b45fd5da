"""Binding a card to its holder (持卡人绑定) with the holder's consent.

A merchant may not bind a card to a consumer by id: that would let it attach cards to
anyone and learn who is on the platform. Instead it asks to bind a card to a *phone*:

1. ``request_binding`` texts a 6-digit code to the phone (the sandbox outbox outside
   production). It never looks the phone up: the answer, the events and the work done are
   the same whether or not a consumer has that phone, so nothing about consumers leaks.
2. The holder signs in (phone + sign-in code, creating their account on first sign-in) and
   enters the binding code: ``confirm_binding``. Only then is the card bound (event
   ``card.holder_bound``), and the named-card KYC rule is checked at that moment.

Codes follow ``identity.consumer_login``: from ``secrets``, kept only as an HMAC bound to
their row, valid ``BINDING_CODE_LIFETIME``, at most ``MAX_BINDING_ATTEMPTS`` wrong tries, a
new request for the card supersedes the previous one; requests are limited per card
(``RESEND_INTERVAL``) and per phone (``DAILY_PHONE_LIMIT`` a day). Like sign-in,
``confirm_binding`` *returns* a wrong-code failure so the caller commits the counter.

The system (demo data, and the sale that will bind a buyer) binds directly with
``issue_card(..., holder_id=...)``.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.errors import BindingCodeRateLimited, CardAlreadyBound, CardNotBindable
from tongka.cards.issuing import CardStatus, check_holder
from tongka.cards.lifecycle import get_card
from tongka.cards.models import Card, CardHolderBinding
from tongka.cards.products import get_product
from tongka.clock import ensure_utc
from tongka.crypto import keyed_hash
from tongka.events import record_event
from tongka.identity import service as identity
from tongka.identity.consumer_login import (
    DAILY_SEND_LIMIT,
    DAILY_WINDOW,
    LOGIN_CODE_LENGTH,
    MAX_CODE_ATTEMPTS,
    RESEND_INTERVAL,
)
from tongka.identity.crypto import IdentityKeys
from tongka.identity.models import Merchant
from tongka.identity.sms import SmsSender, mask_phone, normalize_mobile
from tongka.ids import new_id

log = structlog.get_logger(__name__)

# The sign-in code's length, tries, resend interval and daily limit; a longer lifetime,
# since the holder first has to sign in.
BINDING_CODE_LENGTH = LOGIN_CODE_LENGTH
BINDING_CODE_LIFETIME = timedelta(minutes=10)
MAX_BINDING_ATTEMPTS = MAX_CODE_ATTEMPTS
DAILY_PHONE_LIMIT = DAILY_SEND_LIMIT
BINDABLE_STATUSES = (CardStatus.ISSUED, CardStatus.ACTIVE, CardStatus.FROZEN)

# Why a confirmation failed; each is also the error ``code`` the API answers with.
CODE_INVALID = "holder_binding_code_invalid"
CODE_EXPIRED = "holder_binding_code_expired"
CODE_LOCKED = "holder_binding_code_locked"


class BindingStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    SUPERSEDED = "superseded"
    LOCKED = "locked"


@dataclass(frozen=True)
class BindingConfirmation:
    """A confirmation's outcome: the bound card, or a ``failure`` code."""

    binding: CardHolderBinding | None = None
    card: Card | None = None
    failure: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.failure is None


def binding_message(merchant_name: str, last4: str, code: str) -> str:
    return (
        f"【通卡】{merchant_name}请求将尾号{last4}的卡绑定到您的账户，验证码 {code}，"
        "10 分钟内有效。登录通卡后在“我的卡”页面输入；如非本人操作请忽略。"
    )


def _code_hash(keys: IdentityKeys, binding_id: str, code: str) -> str:
    """Bound to the row (and apart from sign-in codes by the prefix)."""
    return keyed_hash(keys.login_code, f"holder_binding:{binding_id}:{code}")


def _new_code() -> str:
    return f"{secrets.randbelow(10**BINDING_CODE_LENGTH):0{BINDING_CODE_LENGTH}d}"


def _retry_after(moment: datetime, interval: timedelta, now: datetime) -> int:
    return max(1, int((ensure_utc(moment) + interval - now).total_seconds() + 0.999))


async def _check_request_rate(session: AsyncSession, card: Card, phone: str, now: datetime) -> None:
    """One request per card per ``RESEND_INTERVAL`` (the card row is locked, so requests for
    a card take turns), and at most ``DAILY_PHONE_LIMIT`` codes a day to one phone."""
    latest = await session.scalar(
        select(func.max(CardHolderBinding.created_at)).where(CardHolderBinding.card_id == card.id)
    )
    if latest is not None and ensure_utc(latest) + RESEND_INTERVAL > now:
        raise BindingCodeRateLimited(
            "A code for this card was sent a moment ago; wait before asking again.",
            param="card_id",
            retry_after_seconds=_retry_after(latest, RESEND_INTERVAL, now),
        )
    since = now - DAILY_WINDOW
    sent_today, oldest = (
        await session.execute(
            select(func.count(), func.min(CardHolderBinding.created_at)).where(
                CardHolderBinding.phone == phone, CardHolderBinding.created_at > since
            )
        )
    ).one()
    if sent_today >= DAILY_PHONE_LIMIT:
        raise BindingCodeRateLimited(
            f"No more than {DAILY_PHONE_LIMIT} binding codes a day go to one number.",
            param="phone",
            details={"problem": "daily_limit", "limit": DAILY_PHONE_LIMIT},
            retry_after_seconds=_retry_after(oldest, DAILY_WINDOW, now),
        )


async def request_binding(
    session: AsyncSession,
    keys: IdentityKeys,
    card_id: str,
    phone: str,
    *,
    merchant_id: str | None,
    actor: str,
    now: datetime,
    sender: SmsSender,
) -> CardHolderBinding:
    """Text the holder of ``phone`` a code to bind the card (see the module docstring).

    Refused, with nothing written: ``invalid_phone``, ``card_not_found`` (another
    merchant's card), ``card_holder_already_bound``, ``card_not_bindable`` (closed, lost
    or expired), ``holder_binding_rate_limited``, or the SMS sender's error."""
    phone = normalize_mobile(phone)
    card = await get_card(session, card_id, merchant_id=merchant_id, lock=True)
    if card.holder_id is not None:
        raise CardAlreadyBound("The card already has a holder.", param="card_id")
    if card.status not in BINDABLE_STATUSES:
        raise CardNotBindable(
            f"A {card.status} card cannot be bound.",
            param="card_id",
            details={"status": card.status},
        )
    await _check_request_rate(session, card, phone, now)
    await session.execute(
        update(CardHolderBinding)
        .where(
            CardHolderBinding.card_id == card.id,
            CardHolderBinding.status == BindingStatus.PENDING,
        )
        .values(status=BindingStatus.SUPERSEDED)
        .execution_options(synchronize_session=False)
    )
    code = _new_code()
    binding = CardHolderBinding(
        id=new_id("hbd"),
        card_id=card.id,
        merchant_id=card.merchant_id,
        phone=phone,
        status=BindingStatus.PENDING,
        failed_attempts=0,
        requested_by=actor,
        created_at=now,
        expires_at=now + BINDING_CODE_LIFETIME,
    )
    binding.code_hash = _code_hash(keys, binding.id, code)
    session.add(binding)
    await session.flush()
    merchant_name = await session.scalar(
        select(Merchant.legal_name).where(Merchant.id == card.merchant_id)
    )
    body = binding_message(merchant_name or "发卡商户", card.last4, code)
    await sender.send(session, phone=phone, body=body, now=now)
    await _binding_event(session, binding, "card.holder_binding_requested", actor, now)
    return binding


async def _binding_event(
    session: AsyncSession, binding: CardHolderBinding, type: str, actor: str, now: datetime
) -> None:
    """About the card, for its issuer: the phone masked, the code never, and the holder's
    id only once they have consented."""
    data: dict[str, object] = {"binding_id": binding.id, "phone": mask_phone(binding.phone)}
    if binding.consumer_id is not None:
        data["holder_id"] = binding.consumer_id
    await record_event(
        session,
        type=type,
        object_type="card",
        object_id=binding.card_id,
        actor=actor,
        now=now,
        merchant_id=binding.merchant_id,
        data=data,
    )


def _count_wrong_code(live: list[CardHolderBinding]) -> str:
    """A wrong code counts against every live code of the phone (guessing one of several
    must not get several times the tries)."""
    for binding in live:
        binding.failed_attempts += 1
        if binding.failed_attempts >= MAX_BINDING_ATTEMPTS:
            binding.status = BindingStatus.LOCKED
    if all(binding.status == BindingStatus.LOCKED for binding in live):
        return CODE_LOCKED
    return CODE_INVALID


async def confirm_binding(
    session: AsyncSession, keys: IdentityKeys, consumer_id: str, code: str, *, now: datetime
) -> BindingConfirmation:
    """The signed-in holder enters the code texted to their phone; the card is bound.

    A wrong, expired or locked code is *returned* (``holder_binding_code_*``; the attempt
    is counted). Raised, with nothing written: ``card_holder_already_bound``,
    ``card_not_bindable``, ``card_holder_not_verified`` (a named card needs the KYC level;
    the code stays valid, so the holder can verify and try again)."""
    consumer = await identity.get_consumer(session, consumer_id)
    pending = list(
        (
            await session.scalars(
                select(CardHolderBinding)
                .where(
                    CardHolderBinding.phone == consumer.phone,
                    CardHolderBinding.status.in_([BindingStatus.PENDING, BindingStatus.LOCKED]),
                )
                .order_by(CardHolderBinding.created_at.desc(), CardHolderBinding.id)
                .with_for_update()
            )
        ).all()
    )
    live = [
        binding
        for binding in pending
        if binding.status == BindingStatus.PENDING and ensure_utc(binding.expires_at) > now
    ]
    if not live:
        failure = CODE_LOCKED if any(b.status == BindingStatus.LOCKED for b in pending) else None
        return BindingConfirmation(failure=failure or (CODE_EXPIRED if pending else CODE_INVALID))
    matched = next(
        (
            binding
            for binding in live
            if hmac.compare_digest(_code_hash(keys, binding.id, code.strip()), binding.code_hash)
        ),
        None,
    )
    if matched is None:
        failure = _count_wrong_code(live)
        await session.flush()
        log.info("cards.holder_binding_refused", consumer_id=consumer.id, reason=failure)
        return BindingConfirmation(failure=failure)
    card = await _bind(session, matched, consumer.id, now)
    return BindingConfirmation(binding=matched, card=card)


async def _bind(
    session: AsyncSession, binding: CardHolderBinding, consumer_id: str, now: datetime
) -> Card:
    card = await get_card(session, binding.card_id, lock=True)
    if card.holder_id is not None:
        raise CardAlreadyBound("The card already has a holder.", param="code")
    if card.status not in BINDABLE_STATUSES:
        raise CardNotBindable(
            f"A {card.status} card cannot be bound.", param="code", details={"status": card.status}
        )
    product = await get_product(session, card.product_id)
    await check_holder(session, consumer_id, is_named=product.is_named)
    card.holder_id = consumer_id
    card.updated_at = now
    binding.status = BindingStatus.CONFIRMED
    binding.consumer_id = consumer_id
    binding.confirmed_at = now
    await session.flush()
    await _binding_event(session, binding, "card.holder_bound", f"consumer:{consumer_id}", now)
    return card


def pending_bindings_query(phone: str, now: datetime) -> Select[tuple[CardHolderBinding]]:
    """Live binding requests for ``phone`` (for the holder's page: which cards await them)."""
    return select(CardHolderBinding).where(
        CardHolderBinding.phone == phone,
        CardHolderBinding.status == BindingStatus.PENDING,
        CardHolderBinding.expires_at > now,
    )
