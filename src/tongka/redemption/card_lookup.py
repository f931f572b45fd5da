"""Finding a purchase's cards: the place checked, each card found, locked and its secret
checked, its status read (``service.redeem`` steps 2–3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import numbers
from tongka.cards.inquiry import LOCK_PERIOD, MAX_WRONG_SECRETS
from tongka.cards.issuing import CardStatus
from tongka.cards.keys import CardKeys
from tongka.cards.lifecycle import card_event
from tongka.cards.models import Card, CardProduct
from tongka.clock import ensure_utc
from tongka.identity.models import Store, Terminal
from tongka.redemption.errors import StoreNotAllowed
from tongka.redemption.purchase import CardCredential


async def check_place(
    session: AsyncSession, merchant_id: str, store_id: str | None, terminal_id: str | None
) -> None:
    """The store is the merchant's; the terminal (if named) is at that store."""
    if store_id is not None:
        owner = await session.scalar(select(Store.merchant_id).where(Store.id == store_id))
        if owner != merchant_id:
            raise StoreNotAllowed("This store is not yours.", param="store_id")
    if terminal_id is not None:
        terminal = await session.get(Terminal, terminal_id)
        if terminal is None or terminal.merchant_id != merchant_id:
            raise StoreNotAllowed("This terminal is not yours.", param="terminal_id")
        if store_id is not None and terminal.store_id != store_id:
            raise StoreNotAllowed("The terminal is not at this store.", param="terminal_id")


async def find_card(
    session: AsyncSession, credential: CardCredential, keys: CardKeys, now: datetime
) -> tuple[Card | None, str | None]:
    """The card and ``None``, or what to decline with (``wrong_secret``, ``card_locked``)."""
    if credential.card_id is not None:
        return await session.get(Card, credential.card_id), None
    digits = numbers.normalise(credential.number or "")
    card = await session.scalar(
        select(Card)
        .where(Card.number_index == keys.number_index(digits))
        .with_for_update()
        # locked and fresh in one round trip: ``redeem`` does not lock it again
        .execution_options(populate_existing=True)
    )
    if card is None:
        keys.secret_matches(credential.secret or "", "card_0", "0" * 64)  # same work
        return None, "wrong_secret"
    if card.locked_until is not None and ensure_utc(card.locked_until) > now:
        return card, "card_locked"
    if not keys.secret_matches(credential.secret or "", card.id, card.secret_hash):
        card.failed_secret_attempts += 1
        if card.failed_secret_attempts >= MAX_WRONG_SECRETS:
            card.failed_secret_attempts = 0
            card.locked_until = now + LOCK_PERIOD
            await card_event(
                session,
                card,
                "card.inquiry_locked",
                actor="redemption",
                now=now,
                reason="wrong_secrets",
                holder_id=card.holder_id,
                locked_until=card.locked_until.isoformat(),
            )
        await session.flush()
        return card, "wrong_secret"
    if card.failed_secret_attempts:
        card.failed_secret_attempts = 0
    return card, None


def status_decline(card: Card, now: datetime) -> str | None:
    if card.status == CardStatus.FROZEN:
        return "card_frozen"
    if card.status == CardStatus.EXPIRED or (
        card.expires_at is not None and ensure_utc(card.expires_at) <= now
    ):
        return "card_expired"
    if card.status != CardStatus.ACTIVE:
        return "card_inactive"
    return None


async def product_of(
    session: AsyncSession, products: dict[str, CardProduct], product_id: str
) -> CardProduct:
    """A card's product, read once per purchase (the session's identity map holds objects
    weakly, so a second ``session.get`` would often be a second round trip)."""
    if product_id not in products:
        product = await session.get(CardProduct, product_id)
        assert product is not None
        products[product_id] = product
    return products[product_id]
