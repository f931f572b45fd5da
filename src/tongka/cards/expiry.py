"""Expiry on business dates, breakage, reminders, and exchange within the grace period.

The daily job expires cards whose last valid business date has ended (``validity.py``),
applies the product's breakage policy (the balance forfeited to breakage income, or kept
for an exchange within the grace period) and sends the 30- and 7-day reminders. Every
forfeit and exchange passes the money gate, which re-checks the card is ``expired``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts
from tongka.cards.accounts import CardBalance, card_balance
from tongka.cards.errors import ExchangeNotAllowed
from tongka.cards.funding import activate_fields
from tongka.cards.issuing import CardStatus, IssuedCard
from tongka.cards.keys import CardKeys
from tongka.cards.lifecycle import ALLOWED_FROM, card_event, check_transition, close, get_card
from tongka.cards.models import Card
from tongka.cards.money_gate import (
    CardMovement,
    Direction,
    LockedCards,
    Purpose,
    move_card_value,
)
from tongka.cards.products import BreakagePolicy, get_product, parse_ratio
from tongka.cards.reissue import replacement_card
from tongka.cards.validity import DEFAULT_TIMEZONE, days_ahead
from tongka.clock import ensure_utc
from tongka.ledger import AccountCode, TransferRequest
from tongka.money import Money, Rounding

REMINDER_DAYS = (7, 30)  # nearest first: a card found 5 days out gets only the 7-day one


def breakage_transfers(
    card: Card, balance: CardBalance, breakage_account_id: str, *, reason: str
) -> list[TransferRequest]:
    transfers = []
    for part, amount, account_of in (
        ("paid", balance.paid, accounts.main_account_id),
        ("bonus", balance.bonus, accounts.bonus_account_id),
    ):
        if amount > 0:
            transfers.append(
                TransferRequest(
                    transfer_id=f"card_breakage:{card.id}:{part}",
                    debit_account_id=account_of(card.id),
                    credit_account_id=breakage_account_id,
                    amount=amount,
                    currency=card.currency,
                    code="card_breakage",
                    reference=reason,
                    metadata={"card_id": card.id, "issuer_id": card.merchant_id, "part": part},
                )
            )
    return transfers


async def _forfeit(session: AsyncSession, card: Card, *, reason: str, now: datetime) -> int:
    """Move the (expired) card's remaining balance, read under the gate's lock, to breakage
    income (booked for its issuer)."""
    income = await accounts.system_account(
        session, AccountCode.BREAKAGE_INCOME, card.currency, now=now
    )
    moved = await move_card_value(
        session,
        [CardMovement(card.id, Direction.DEBIT, Purpose.BREAKAGE)],
        lambda locked: breakage_transfers(card, locked.balances[card.id], income, reason=reason),
        now=now,
    )
    return moved.balances_before[card.id].total


async def expire_card(
    session: AsyncSession,
    card: Card,
    *,
    actor: str,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> Card:
    """Expire one (locked) card and apply its product's breakage policy."""
    check_transition(card, "expire")
    product = await get_product(session, card.product_id)
    card.status = CardStatus.EXPIRED
    card.expired_at = now
    card.updated_at = now
    forfeited = 0
    if product.breakage_policy == BreakagePolicy.EXCHANGE:
        # through the end of the business date ``exchange_grace_days`` after today's
        card.exchangeable_until = days_ahead(now, product.exchange_grace_days or 0, timezone)
    else:
        forfeited = await _forfeit(session, card, reason="expired", now=now)
    await session.flush()
    await card_event(
        session,
        card,
        "card.expired",
        actor=actor,
        now=now,
        breakage_policy=product.breakage_policy,
        forfeited=forfeited,
        exchangeable_until=(
            card.exchangeable_until.isoformat() if card.exchangeable_until else None
        ),
    )
    return card


async def expire_due_cards(
    session: AsyncSession,
    *,
    now: datetime,
    actor: str = "job:cards.expire",
    limit: int = 500,
    timezone: str = DEFAULT_TIMEZONE,
) -> int:
    """One bounded pass of the daily job: expire cards whose last valid business date has
    ended (``expires_at`` is that day's last instant), forfeit ended grace periods, send the
    30- and 7-day reminders (counted in business dates). Returns how many it handled."""
    handled = 0
    due = await session.execute(
        select(Card)
        .where(
            Card.status.in_([s.value for s in ALLOWED_FROM["expire"]]),
            Card.expires_at.is_not(None),
            Card.expires_at <= now,
        )
        .order_by(Card.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    for card in due.scalars().all():
        await expire_card(session, card, actor=actor, now=now, timezone=timezone)
        handled += 1
    handled += await _close_ended_grace_periods(session, now=now, actor=actor, limit=limit)
    handled += await _send_reminders(session, now=now, actor=actor, limit=limit, timezone=timezone)
    return handled


async def _close_ended_grace_periods(
    session: AsyncSession, *, now: datetime, actor: str, limit: int
) -> int:
    rows = await session.execute(
        select(Card)
        .where(
            Card.status == CardStatus.EXPIRED.value,
            Card.exchangeable_until.is_not(None),
            Card.exchangeable_until <= now,
        )
        .order_by(Card.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    handled = 0
    for card in rows.scalars().all():
        forfeited = await _forfeit(session, card, reason="exchange_grace_ended", now=now)
        close(card, now)
        await session.flush()
        await card_event(
            session,
            card,
            "card.closed",
            actor=actor,
            now=now,
            reason="exchange_grace_ended",
            forfeited=forfeited,
        )
        handled += 1
    return handled


async def _send_reminders(
    session: AsyncSession, *, now: datetime, actor: str, limit: int, timezone: str
) -> int:
    handled = 0
    for days in REMINDER_DAYS:  # due within ``days`` business dates from today's
        rows = await session.execute(
            select(Card)
            .where(
                Card.status.in_([CardStatus.ACTIVE.value, CardStatus.FROZEN.value]),
                Card.expires_at.is_not(None),
                Card.expires_at > now,
                Card.expires_at <= days_ahead(now, days, timezone),
                or_(Card.last_reminder_days.is_(None), Card.last_reminder_days > days),
            )
            .order_by(Card.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        for card in rows.scalars().all():
            card.last_reminder_days = days
            card.updated_at = now
            await session.flush()
            await card_event(
                session,
                card,
                "card.expiry_reminder",
                actor=actor,
                now=now,
                days=days,
                expires_at=ensure_utc(card.expires_at).isoformat() if card.expires_at else None,
                holder_id=card.holder_id,
            )
            handled += 1
    return handled


def _at_ratio(amount: int, currency: str, ratio: Decimal) -> int:
    return Money(amount, currency).apply_rate(ratio, rounding=Rounding.DOWN).minor_units


def _carried(balance: CardBalance, currency: str, ratio: Decimal) -> CardBalance:
    """Rounded down part by part: the holder never gets more than the ratio gives."""
    return CardBalance(
        paid=_at_ratio(balance.paid, currency, ratio),
        bonus=_at_ratio(balance.bonus, currency, ratio),
    )


async def exchange_expired_card(
    session: AsyncSession,
    card_id: str,
    *,
    keys: CardKeys,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> IssuedCard:
    """Within the grace period an expired card's balance buys a new card at the product's
    ratio (rounded down to the fen); the rest is breakage. One ledger transaction."""
    old = await get_card(session, card_id, merchant_id=merchant_id, lock=True)
    check_transition(old, "exchange")
    product = await get_product(session, old.product_id)
    grace = old.exchangeable_until
    if grace is None or ensure_utc(grace) <= now:
        raise ExchangeNotAllowed(
            "This card's product allows no exchange, or the grace ended.",
            details={"problem": "grace_ended", "until": grace} if grace is not None else None,
        )
    ratio = parse_ratio(product.exchange_ratio) or Decimal(1)
    # the card is locked (``get_card``): the balance read here is the one the gate moves
    carried = _carried(await card_balance(session, old), old.currency, ratio)
    issued = await replacement_card(
        session, old, product, keys=keys, actor=actor, now=now, face_value=carried.total
    )
    new = issued.card
    activate_fields(new, product, now, timezone)
    await session.flush()
    await accounts.open_card_accounts(session, [new], now=now)
    income = await accounts.system_account(
        session, AccountCode.BREAKAGE_INCOME, old.currency, now=now
    )

    def transfers(locked: LockedCards) -> list[TransferRequest]:
        balance = locked.balances[old.id]
        kept = _carried(balance, old.currency, ratio)
        rest = CardBalance(paid=balance.paid - kept.paid, bonus=balance.bonus - kept.bonus)
        moves = accounts.moves_of_balance(
            old, new.id, kept, transfer_prefix="card_exchange", code="card_exchange"
        )
        return moves + breakage_transfers(old, rest, income, reason="exchange_remainder")

    await move_card_value(
        session,
        [
            CardMovement(old.id, Direction.DEBIT, Purpose.EXCHANGE),
            CardMovement(new.id, Direction.CREDIT, Purpose.EXCHANGE),
        ],
        transfers,
        now=now,
    )
    close(old, now, replaced_by=new.id)
    await session.flush()
    await card_event(
        session, old, "card.exchanged", actor=actor, now=now, new_card_id=new.id, ratio=str(ratio)
    )
    await card_event(
        session, new, "card.activated", actor=actor, now=now, reason="exchange", amount=carried.paid
    )
    return issued
