"""The card lifecycle: activation, freeze, loss and reissue, close, merge, expiry, exchange.

issued -> active -> frozen <-> active -> closed; active/frozen/lost -> expired;
active/frozen -> lost -> (reissued: balance moved to a new card) closed. Every transition
records an event naming who and why; anything else raises ``IllegalCardTransition``.
Money moves only through the ledger, one atomic ledger transaction per operation.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts, numbers
from tongka.cards.accounts import CardBalance, card_balance, card_balances
from tongka.cards.errors import (
    CardNotFound,
    ExchangeNotAllowed,
    FundingAmountMismatch,
    IllegalCardTransition,
    MaxBalanceExceeded,
    MergeNotAllowed,
)
from tongka.cards.issuing import (
    BatchStatus,
    CardStatus,
    IssuedCard,
    create_cards,
    get_batch,
)
from tongka.cards.keys import CardKeys
from tongka.cards.models import Card, CardBatch, CardProduct
from tongka.cards.products import BreakagePolicy, get_product, parse_ratio
from tongka.cards.quota import reserve_quota
from tongka.clock import ensure_utc
from tongka.events import record_event
from tongka.ledger import AccountCode, TransferRequest
from tongka.money import Money, Rounding

# action -> the statuses it may start from
ALLOWED_FROM: dict[str, frozenset[CardStatus]] = {
    "activate": frozenset({CardStatus.ISSUED}),
    "freeze": frozenset({CardStatus.ACTIVE}),
    "unfreeze": frozenset({CardStatus.FROZEN}),
    "report_lost": frozenset({CardStatus.ACTIVE, CardStatus.FROZEN}),
    "reissue": frozenset({CardStatus.LOST}),
    "close": frozenset({CardStatus.ACTIVE, CardStatus.FROZEN}),
    "expire": frozenset({CardStatus.ACTIVE, CardStatus.FROZEN, CardStatus.LOST}),
    "merge": frozenset({CardStatus.ACTIVE}),
    "exchange": frozenset({CardStatus.EXPIRED}),
}
REMINDER_DAYS = (7, 30)  # nearest first: a card found 5 days out gets only the 7-day one


def check_transition(card: Card, action: str) -> None:
    allowed = ALLOWED_FROM[action]
    if card.status not in allowed:
        names = ", ".join(sorted(status.value for status in allowed))
        raise IllegalCardTransition(
            f"Cannot {action.replace('_', ' ')} a card that is {card.status} (only from: {names}).",
            details={"status": card.status, "action": action},
        )


async def get_card(
    session: AsyncSession,
    card_id: str,
    *,
    merchant_id: str | None = None,
    holder_id: str | None = None,
    lock: bool = False,
) -> Card:
    """A card scoped to its issuer or holder when given (anyone else's: not found)."""
    statement = select(Card).where(Card.id == card_id)
    if merchant_id is not None:
        statement = statement.where(Card.merchant_id == merchant_id)
    if holder_id is not None:
        statement = statement.where(Card.holder_id == holder_id)
    if lock:
        statement = statement.with_for_update()
    card = (await session.execute(statement)).scalar_one_or_none()
    if card is None:
        raise CardNotFound("No such card.", param="card_id")
    return card


def cards_query(
    *,
    merchant_id: str | None = None,
    holder_id: str | None = None,
    last4: str | None = None,
    product_id: str | None = None,
    batch_id: str | None = None,
    status: str | None = None,
) -> Select[tuple[Card]]:
    """Cards matching every given filter (search by last four digits, holder, product...)."""
    statement = select(Card)
    for column, value in (
        (Card.merchant_id, merchant_id),
        (Card.holder_id, holder_id),
        (Card.last4, last4),
        (Card.product_id, product_id),
        (Card.batch_id, batch_id),
        (Card.status, status),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return statement


async def find_card_by_number(
    session: AsyncSession, number: str, *, keys: CardKeys, merchant_id: str | None = None
) -> Card:
    """Exact lookup by full number through the blind index (the number is never stored)."""
    statement = select(Card).where(
        Card.number_index == keys.number_index(numbers.normalise(number))
    )
    if merchant_id is not None:
        statement = statement.where(Card.merchant_id == merchant_id)
    card = (await session.execute(statement)).scalar_one_or_none()
    if card is None:
        raise CardNotFound("No card with that number.", param="number")
    return card


async def _lock_cards(session: AsyncSession, card_ids: list[str]) -> list[Card]:
    """Lock several cards in id order (a fixed order: no deadlock between two merges)."""
    statement = select(Card).where(Card.id.in_(sorted(set(card_ids)))).order_by(Card.id)
    return list((await session.execute(statement.with_for_update())).scalars().all())


async def card_event(
    session: AsyncSession,
    card: Card,
    type: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    **data: Any,
) -> None:
    await record_event(
        session,
        type=type,
        object_type="card",
        object_id=card.id,
        actor=actor,
        now=now,
        merchant_id=card.merchant_id,
        data={"status": card.status, "reason": reason, "last4": card.last4, **data},
    )


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _activate_fields(card: Card, product: CardProduct, now: datetime) -> None:
    card.status = CardStatus.ACTIVE
    card.activated_at = now
    card.updated_at = now
    if product.validity_months is not None:
        card.expires_at = add_months(now, product.validity_months)


@dataclass(frozen=True)
class CardFunding:
    """Money that comes with an activation: ``amount`` (paid part) and ``bonus``.

    ``transfer_id`` is the caller's idempotency key; ``debit_account_id`` is where the paid
    part comes from (a channel receivable, the reserve bank...), ``bonus_account_id`` where
    the bonus comes from (the merchant's marketing budget).
    """

    transfer_id: str
    debit_account_id: str
    amount: int
    code: str = "card_load"
    reference: str | None = None
    bonus: int = 0
    bonus_account_id: str | None = None


def _check_max_balance(product: CardProduct, current: int, adding: int) -> None:
    if current + adding > product.max_balance:
        raise MaxBalanceExceeded(
            f"The card may hold at most {product.max_balance} (minor units); it holds "
            f"{current} and {adding} more would exceed that.",
            details={"max_balance": product.max_balance, "balance": current, "adding": adding},
        )


def _funding_transfers(card: Card, funding: CardFunding) -> list[TransferRequest]:
    transfers = []
    if funding.amount > 0:
        transfers.append(
            TransferRequest(
                transfer_id=funding.transfer_id,
                debit_account_id=funding.debit_account_id,
                credit_account_id=accounts.main_account_id(card.id),
                amount=funding.amount,
                currency=card.currency,
                code=funding.code,
                reference=funding.reference,
                metadata={"card_id": card.id},
            )
        )
    if funding.bonus > 0:
        if funding.bonus_account_id is None:
            raise ValueError("a bonus needs the account it is funded from")
        transfers.append(
            TransferRequest(
                transfer_id=f"{funding.transfer_id}:bonus",
                debit_account_id=funding.bonus_account_id,
                credit_account_id=accounts.bonus_account_id(card.id),
                amount=funding.bonus,
                currency=card.currency,
                code=f"{funding.code}_bonus",
                reference=funding.reference,
                metadata={"card_id": card.id},
            )
        )
    return transfers


async def activate_card(
    session: AsyncSession,
    card_id: str,
    *,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    funding: CardFunding | None = None,
    reason: str | None = None,
) -> Card:
    """Activate an issued card (sold and paid): opens its ledger accounts and, with
    ``funding``, credits it in the same ledger transaction, within the issuer's quota and
    the product's maximum balance. The sales part calls this."""
    card = await get_card(session, card_id, merchant_id=merchant_id, lock=True)
    check_transition(card, "activate")
    product = await get_product(session, card.product_id)
    if funding is not None:
        _check_max_balance(product, 0, funding.amount + funding.bonus)
        await reserve_quota(
            session, card.merchant_id, card.currency, funding.amount + funding.bonus
        )
    _activate_fields(card, product, now)
    await session.flush()
    await accounts.open_card_accounts(session, [card], now=now)
    if funding is not None:
        await accounts.post(session, _funding_transfers(card, funding), now=now)
    await card_event(
        session,
        card,
        "card.activated",
        actor=actor,
        now=now,
        reason=reason,
        amount=funding.amount if funding else 0,
        bonus=funding.bonus if funding else 0,
    )
    return card


async def fund_batch(
    session: AsyncSession,
    batch_id: str,
    *,
    transfer_reference: str,
    amount: int,
    actor: str,
    now: datetime,
) -> CardBatch:
    """A finance operator activates an enterprise batch paid by bank transfer.

    The recorded amount must equal the batch's value exactly; then one ledger transaction
    credits every card from the reserve bank account. Refused: nothing is written.
    """
    batch = await get_batch(session, batch_id)
    if batch.status != BatchStatus.COMPLETED:
        raise IllegalCardTransition("Only a completed batch can be activated.")
    if batch.funded_at is not None:
        raise IllegalCardTransition(
            f"The batch was already activated (transfer {batch.funding_reference})."
        )
    expected = batch.total * batch.face_value
    if amount != expected:
        raise FundingAmountMismatch(
            f"The batch is worth {expected} (minor units, {batch.total} × {batch.face_value}); "
            f"the transfer of {amount} does not match it.",
            param="amount",
            details={"expected": expected, "amount": amount},
        )
    cards = (
        (
            await session.execute(
                select(Card)
                .where(Card.batch_id == batch.id, Card.status == CardStatus.ISSUED.value)
                .order_by(Card.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    if len(cards) != batch.total:
        raise IllegalCardTransition(
            f"{batch.total - len(cards)} cards of the batch are no longer unsold; "
            "activate the rest one by one."
        )
    product = await get_product(session, batch.product_id)
    _check_max_balance(product, 0, batch.face_value)
    await reserve_quota(session, batch.merchant_id, batch.currency, amount)
    reserve = await accounts.system_account(
        session, AccountCode.RESERVE_BANK, batch.currency, now=now
    )
    for card in cards:
        _activate_fields(card, product, now)
    await session.flush()
    await accounts.open_card_accounts(session, cards, now=now)
    await accounts.post_many(
        session,
        [
            TransferRequest(
                transfer_id=f"card_batch_funding:{batch.id}:{card.id}",
                debit_account_id=reserve,
                credit_account_id=accounts.main_account_id(card.id),
                amount=batch.face_value,
                currency=batch.currency,
                code="card_batch_funding",
                reference=transfer_reference,
                metadata={"card_id": card.id, "batch_id": batch.id},
            )
            for card in cards
        ],
        now=now,
    )
    await session.execute(
        update(CardBatch)
        .where(CardBatch.id == batch.id)
        .values(funding_reference=transfer_reference, funded_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(batch)
    await record_event(
        session,
        type="card_batch.activated",
        object_type="card_batch",
        object_id=batch.id,
        actor=actor,
        now=now,
        merchant_id=batch.merchant_id,
        data={"transfer_reference": transfer_reference, "amount": amount, "cards": len(cards)},
    )
    return batch


# action -> (the status it leads to, the event it records)
SIMPLE_TRANSITIONS: dict[str, tuple[CardStatus, str]] = {
    "freeze": (CardStatus.FROZEN, "card.frozen"),  # no value may leave a frozen card
    "unfreeze": (CardStatus.ACTIVE, "card.unfrozen"),
    "report_lost": (CardStatus.LOST, "card.reported_lost"),  # 挂失: only a reissue moves on
}


async def transition_card(
    session: AsyncSession,
    card_id: str,
    action: str,
    *,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    holder_id: str | None = None,
    reason: str | None = None,
) -> Card:
    """Freeze, unfreeze or report lost (``SIMPLE_TRANSITIONS``): a status change and its
    event, on a locked card, refused unless allowed from the card's status."""
    target, event = SIMPLE_TRANSITIONS[action]
    card = await get_card(session, card_id, merchant_id=merchant_id, holder_id=holder_id, lock=True)
    check_transition(card, action)
    card.status = target
    card.updated_at = now
    await session.flush()
    await card_event(session, card, event, actor=actor, now=now, reason=reason)
    return card


async def freeze_card(session: AsyncSession, card_id: str, **options: Any) -> Card:
    return await transition_card(session, card_id, "freeze", **options)


async def unfreeze_card(session: AsyncSession, card_id: str, **options: Any) -> Card:
    return await transition_card(session, card_id, "unfreeze", **options)


async def report_lost(session: AsyncSession, card_id: str, **options: Any) -> Card:
    return await transition_card(session, card_id, "report_lost", **options)


async def close_card(
    session: AsyncSession,
    card_id: str,
    *,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    holder_id: str | None = None,
    reason: str | None = None,
) -> Card:
    """Close an empty card. A card with a balance must be spent, refunded or merged first."""
    card = await get_card(session, card_id, merchant_id=merchant_id, holder_id=holder_id, lock=True)
    check_transition(card, "close")
    balance = await card_balance(session, card)
    if balance.total != 0:
        raise IllegalCardTransition(
            f"The card still holds {balance.total} (minor units); it can be closed only "
            "when empty.",
            details={"balance": balance.total},
        )
    _close(card, now)
    await session.flush()
    await card_event(session, card, "card.closed", actor=actor, now=now, reason=reason)
    return card


LIFECYCLE_ACTIONS = (*SIMPLE_TRANSITIONS, "close")


async def apply_lifecycle_action(
    session: AsyncSession, card_id: str, action: str, **options: Any
) -> Card:
    """One of ``LIFECYCLE_ACTIONS`` by name (the API and the console offer them alike)."""
    if action == "close":
        return await close_card(session, card_id, **options)
    return await transition_card(session, card_id, action, **options)


def _close(card: Card, now: datetime, replaced_by: str | None = None) -> None:
    card.status = CardStatus.CLOSED
    card.closed_at = now
    card.updated_at = now
    card.replaced_by_card_id = replaced_by


async def _replacement_card(
    session: AsyncSession,
    old: Card,
    product: CardProduct,
    *,
    keys: CardKeys,
    actor: str,
    now: datetime,
    face_value: int,
) -> IssuedCard:
    [issued] = await create_cards(
        session,
        product,
        count=1,
        face_value=face_value,
        keys=keys,
        actor=actor,
        now=now,
        holder_id=old.holder_id,
    )
    card = await session.get(Card, issued.card.id)
    assert card is not None
    return IssuedCard(card=card, number=issued.number, secret=issued.secret)


async def reissue_card(
    session: AsyncSession,
    card_id: str,
    *,
    keys: CardKeys,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    reason: str | None = None,
) -> IssuedCard:
    """补卡: a new card of the same product gets the lost card's whole balance (one ledger
    transaction, paid and bonus apart) and its expiry; the lost card closes."""
    old = await get_card(session, card_id, merchant_id=merchant_id, lock=True)
    check_transition(old, "reissue")
    product = await get_product(session, old.product_id)
    issued = await _replacement_card(
        session, old, product, keys=keys, actor=actor, now=now, face_value=old.face_value
    )
    new = issued.card
    new.status = CardStatus.ACTIVE
    new.activated_at = now
    new.expires_at = old.expires_at
    new.updated_at = now
    balance = await card_balance(session, old)
    _close(old, now, replaced_by=new.id)
    await session.flush()
    await accounts.open_card_accounts(session, [new], now=now)
    await accounts.post(
        session,
        accounts.moves_of_balance(
            old, new.id, balance, transfer_prefix="card_reissue", code="card_reissue"
        ),
        now=now,
    )
    await card_event(
        session, old, "card.reissued", actor=actor, now=now, reason=reason, new_card_id=new.id
    )
    await card_event(
        session,
        new,
        "card.activated",
        actor=actor,
        now=now,
        reason="reissue",
        replaces_card_id=old.id,
        amount=balance.paid,
        bonus=balance.bonus,
    )
    return issued


async def merge_cards(
    session: AsyncSession,
    target_card_id: str,
    source_card_ids: list[str],
    *,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    holder_id: str | None = None,
) -> Card:
    """并卡: every source card's balance moves onto the target card in one ledger
    transaction (paid onto paid, bonus onto bonus); the emptied sources close."""
    sources = [card_id for card_id in source_card_ids if card_id != target_card_id]
    if not sources:
        raise MergeNotAllowed("Name at least one card to merge into the target.")
    cards = await _lock_cards(session, [target_card_id, *sources])
    by_id = {card.id: card for card in cards}
    missing = [card_id for card_id in [target_card_id, *sources] if card_id not in by_id]
    if missing or any(
        (merchant_id is not None and card.merchant_id != merchant_id)
        or (holder_id is not None and card.holder_id != holder_id)
        for card in cards
    ):
        raise CardNotFound("No such card.", param="card_ids")
    target = by_id[target_card_id]
    for card in cards:
        check_transition(card, "merge")
        if card.product_id != target.product_id or card.holder_id != target.holder_id:
            raise MergeNotAllowed(
                "Only cards of one product and one holder can be merged.",
                details={"card_id": card.id},
            )
    product = await get_product(session, target.product_id)
    balances = await card_balances(session, cards)
    total = sum(balance.total for balance in balances.values())
    _check_max_balance(product, 0, total)
    transfers = []
    for source_id in sorted(sources):
        source = by_id[source_id]
        transfers += accounts.moves_of_balance(
            source, target.id, balances[source_id], transfer_prefix="card_merge", code="card_merge"
        )
        _close(source, now, replaced_by=target.id)
    await session.flush()
    await accounts.post(session, transfers, now=now)
    for source_id in sorted(sources):
        await card_event(
            session, by_id[source_id], "card.merged", actor=actor, now=now, into_card_id=target.id
        )
    await card_event(
        session,
        target,
        "card.merge_received",
        actor=actor,
        now=now,
        from_card_ids=sorted(sources),
        amount=sum(balances[s].paid for s in sources),
        bonus=sum(balances[s].bonus for s in sources),
    )
    return target


# --- expiry and breakage -----------------------------------------------------------------


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
    """Move the card's remaining balance to breakage income (booked for its issuer)."""
    balance = await card_balance(session, card)
    if balance.total == 0:
        return 0
    income = await accounts.system_account(
        session, AccountCode.BREAKAGE_INCOME, card.currency, now=now
    )
    await accounts.post(session, breakage_transfers(card, balance, income, reason=reason), now=now)
    return balance.total


async def expire_card(session: AsyncSession, card: Card, *, actor: str, now: datetime) -> Card:
    """Expire one (locked) card and apply its product's breakage policy."""
    check_transition(card, "expire")
    product = await get_product(session, card.product_id)
    card.status = CardStatus.EXPIRED
    card.expired_at = now
    card.updated_at = now
    forfeited = 0
    if product.breakage_policy == BreakagePolicy.EXCHANGE:
        card.exchangeable_until = now + timedelta(days=product.exchange_grace_days or 0)
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
    session: AsyncSession, *, now: datetime, actor: str = "job:cards.expire", limit: int = 500
) -> int:
    """One bounded pass of the daily job: expire due cards, forfeit ended grace periods,
    send the 30- and 7-day reminders. Returns how many cards it handled."""
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
        await expire_card(session, card, actor=actor, now=now)
        handled += 1
    handled += await _close_ended_grace_periods(session, now=now, actor=actor, limit=limit)
    handled += await _send_reminders(session, now=now, actor=actor, limit=limit)
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
        _close(card, now)
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


async def _send_reminders(session: AsyncSession, *, now: datetime, actor: str, limit: int) -> int:
    handled = 0
    for days in REMINDER_DAYS:
        rows = await session.execute(
            select(Card)
            .where(
                Card.status.in_([CardStatus.ACTIVE.value, CardStatus.FROZEN.value]),
                Card.expires_at.is_not(None),
                Card.expires_at > now,
                Card.expires_at <= now + timedelta(days=days),
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


async def exchange_expired_card(
    session: AsyncSession,
    card_id: str,
    *,
    keys: CardKeys,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
) -> IssuedCard:
    """Within the grace period an expired card's balance buys a new card at the product's
    ratio (rounded down to the fen); the rest is breakage. One ledger transaction."""
    old = await get_card(session, card_id, merchant_id=merchant_id, lock=True)
    check_transition(old, "exchange")
    product = await get_product(session, old.product_id)
    grace = old.exchangeable_until
    if grace is None or ensure_utc(grace) <= now:
        raise ExchangeNotAllowed("This card's product allows no exchange, or the grace ended.")
    ratio = parse_ratio(product.exchange_ratio) or Decimal(1)
    balance = await card_balance(session, old)
    carried = CardBalance(  # rounded down: the holder never gets more than the ratio gives
        paid=_at_ratio(balance.paid, old.currency, ratio),
        bonus=_at_ratio(balance.bonus, old.currency, ratio),
    )
    remainder = CardBalance(paid=balance.paid - carried.paid, bonus=balance.bonus - carried.bonus)
    issued = await _replacement_card(
        session, old, product, keys=keys, actor=actor, now=now, face_value=carried.total
    )
    new = issued.card
    _activate_fields(new, product, now)
    _close(old, now, replaced_by=new.id)
    await session.flush()
    await accounts.open_card_accounts(session, [new], now=now)
    transfers = accounts.moves_of_balance(
        old, new.id, carried, transfer_prefix="card_exchange", code="card_exchange"
    )
    if remainder.total:
        income = await accounts.system_account(
            session, AccountCode.BREAKAGE_INCOME, old.currency, now=now
        )
        transfers += breakage_transfers(old, remainder, income, reason="exchange_remainder")
    await accounts.post(session, transfers, now=now)
    await card_event(
        session, old, "card.exchanged", actor=actor, now=now, new_card_id=new.id, ratio=str(ratio)
    )
    await card_event(
        session, new, "card.activated", actor=actor, now=now, reason="exchange", amount=carried.paid
    )
    return issued
