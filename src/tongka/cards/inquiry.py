"""The public balance inquiry (number + secret), with strict attempt limits.

Per client address: at most ``CLIENT_ATTEMPTS`` inquiries per ``CLIENT_WINDOW``. Per card:
``MAX_WRONG_SECRETS`` wrong secrets in a row lock the card's inquiry for ``LOCK_PERIOD``
and tell the holder (event ``card.inquiry_locked``). An unknown number and a wrong secret
get the same answer and cost the same work (a keyed hash is computed either way, compared
in constant time). The attempt counters must survive the refusal, so the check runs in its
own transaction that commits before the error is raised (``inquire_balance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import numbers
from tongka.cards.accounts import CardBalance, card_balance
from tongka.cards.errors import CardCredentialsInvalid, CardLocked, InquiryRateLimited
from tongka.cards.keys import CardKeys
from tongka.cards.lifecycle import card_event
from tongka.cards.models import Card, CardInquiryWindow
from tongka.clock import ensure_utc
from tongka.db import Database
from tongka.errors import DomainError

MAX_WRONG_SECRETS = 5
LOCK_PERIOD = timedelta(minutes=30)
CLIENT_ATTEMPTS = 30
CLIENT_WINDOW = timedelta(minutes=10)
_DUMMY_CARD_ID = "card_00000000000000000000000000"
_DUMMY_HASH = "0" * 64


@dataclass(frozen=True)
class BalanceAnswer:
    card: Card
    balance: CardBalance


async def _count_client_attempt(session: AsyncSession, client: str, now: datetime) -> None:
    # insert-if-absent first, so two first requests from one address cannot both insert
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(CardInquiryWindow)
        .values(client=client, window_start=now, attempts=0)
        .on_conflict_do_nothing()
    )
    window = await session.get(
        CardInquiryWindow, client, with_for_update=True, populate_existing=True
    )
    assert window is not None
    if ensure_utc(window.window_start) + CLIENT_WINDOW <= now:
        window.window_start = now
        window.attempts = 0
    window.attempts += 1
    await session.flush()
    if window.attempts > CLIENT_ATTEMPTS:
        retry = ensure_utc(window.window_start) + CLIENT_WINDOW - now
        raise InquiryRateLimited(
            "Too many balance inquiries from this address; try again later.",
            retry_after_seconds=max(1, int(retry.total_seconds())),
        )


async def check_balance(
    session: AsyncSession,
    number: str,
    secret: str,
    *,
    client: str,
    keys: CardKeys,
    now: datetime,
) -> BalanceAnswer | DomainError:
    """The answer, or the error to raise *after* committing the attempt counters."""
    try:
        await _count_client_attempt(session, client, now)
    except InquiryRateLimited as refused:
        return refused
    digits = numbers.normalise(number)
    card = (
        await session.execute(
            select(Card).where(Card.number_index == keys.number_index(digits)).with_for_update()
        )
    ).scalar_one_or_none()
    invalid = CardCredentialsInvalid("The card number or the secret is wrong.")
    if card is None:
        keys.secret_matches(secret, _DUMMY_CARD_ID, _DUMMY_HASH)  # same work as a real check
        return invalid
    if card.locked_until is not None and ensure_utc(card.locked_until) > now:
        remaining = ensure_utc(card.locked_until) - now
        return CardLocked(
            "Too many wrong secrets: balance inquiry for this card is paused.",
            retry_after_seconds=max(1, int(remaining.total_seconds())),
        )
    if not keys.secret_matches(secret, card.id, card.secret_hash):
        card.failed_secret_attempts += 1
        if card.failed_secret_attempts >= MAX_WRONG_SECRETS:
            card.failed_secret_attempts = 0
            card.locked_until = now + LOCK_PERIOD
            await card_event(
                session,
                card,
                "card.inquiry_locked",
                actor=f"client:{client}",
                now=now,
                reason="wrong_secrets",
                holder_id=card.holder_id,
                locked_until=card.locked_until.isoformat(),
            )
        await session.flush()
        return invalid
    card.failed_secret_attempts = 0
    await session.flush()
    return BalanceAnswer(card=card, balance=await card_balance(session, card))


async def inquire_balance(
    database: Database,
    number: str,
    secret: str,
    *,
    client: str,
    keys: CardKeys,
    now: datetime,
) -> BalanceAnswer:
    """Check a balance in a transaction of its own; refusals are raised after the commit."""

    async def work(session: AsyncSession) -> BalanceAnswer | DomainError:
        return await check_balance(session, number, secret, client=client, keys=keys, now=now)

    outcome = await database.run(work)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome
