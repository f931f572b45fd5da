"""The card lifecycle: lookups, events, and the status transitions (freeze, loss, close).

issued -> active -> frozen <-> active -> closed; active/frozen/lost -> expired;
active/frozen -> lost -> (reissued: balance moved to a new card) closed. Every transition
records an event naming who and why; anything else raises ``IllegalCardTransition``.

A freeze records its side (holder, issuer, platform), actor and reason; only that side or
the platform may take the card out of ``frozen`` again (unfreeze, report lost, close).

Value moves only through ``money_gate.move_card_value``: activation and batch funding in
``funding.py``, reissue and merge in ``reissue.py``, expiry, breakage and exchange in
``expiry.py``. Each re-checks the card's status under the gate's lock.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import numbers
from tongka.cards.accounts import CardBalance
from tongka.cards.errors import CardNotFound, FreezeHeldByOtherSide, IllegalCardTransition
from tongka.cards.issuing import CardStatus
from tongka.cards.keys import CardKeys
from tongka.cards.models import Card
from tongka.cards.money_gate import CardMovement, Direction, LockedCards, Purpose, move_card_value
from tongka.events import record_event
from tongka.identity.principal import Principal, PrincipalKind

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


# actions people take from a page (expire and exchange are the expiry job's)
OFFERED_ACTIONS = ("activate", "freeze", "unfreeze", "report_lost", "reissue", "merge", "close")


def available_actions(card: Card) -> list[str]:
    """The actions ``card``'s status allows (``ALLOWED_FROM``), in the order pages offer
    them: what a page shows, before the caller's role and the freeze's side narrow it."""
    return [action for action in OFFERED_ACTIONS if card.status in ALLOWED_FROM[action]]


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
    if lock:  # re-read: a card this session loaded before may be stale
        statement = statement.with_for_update().execution_options(populate_existing=True)
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


# --- freeze sides ------------------------------------------------------------------------


class FreezeSide(enum.StrEnum):
    HOLDER = "holder"  # the card's holder (a consumer)
    ISSUER = "issuer"  # the issuing merchant (a fraud hold, a dispute)
    PLATFORM = "platform"  # the platform's operators (risk, compliance)


SIDE_OF_KIND = {
    PrincipalKind.CONSUMER: FreezeSide.HOLDER,
    PrincipalKind.MERCHANT: FreezeSide.ISSUER,
    PrincipalKind.PLATFORM: FreezeSide.PLATFORM,
}


def freeze_side(principal: Principal) -> FreezeSide:
    return SIDE_OF_KIND[principal.kind]


def check_may_lift_freeze(card: Card, principal: Principal) -> None:
    """Only the side that froze the card, or the platform, may take it out of ``frozen``.

    A freeze without a recorded side (frozen before sides were recorded) is the platform's.
    """
    side = FreezeSide(card.frozen_by_side or FreezeSide.PLATFORM)
    mine = freeze_side(principal)
    if mine in (side, FreezeSide.PLATFORM):
        return
    reason = card.frozen_reason or "no reason given"
    raise FreezeHeldByOtherSide(
        f"The card was frozen by the {side} ({reason}); only the {side} or the platform may "
        "lift that freeze.",
        details={"frozen_by": side.value, "reason": card.frozen_reason, "side": mine.value},
    )


def _mark_frozen(card: Card, principal: Principal, reason: str | None, now: datetime) -> None:
    card.frozen_by_side = freeze_side(principal).value
    card.frozen_by_actor = principal.actor
    card.frozen_reason = reason
    card.frozen_at = now


def _lift_freeze(card: Card, principal: Principal) -> None:
    """Leaving ``frozen`` by any transition needs the freeze's side (or the platform)."""
    if card.status != CardStatus.FROZEN:
        return
    check_may_lift_freeze(card, principal)
    card.frozen_by_side = card.frozen_by_actor = card.frozen_reason = None
    card.frozen_at = None


# --- transitions -------------------------------------------------------------------------

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
    principal: Principal,
    now: datetime,
    merchant_id: str | None = None,
    holder_id: str | None = None,
    reason: str | None = None,
) -> Card:
    """Freeze, unfreeze or report lost (``SIMPLE_TRANSITIONS``): a status change and its
    event, on a locked card, refused unless allowed from the card's status (and, out of
    ``frozen``, unless ``principal`` is on the freeze's side or the platform)."""
    target, event = SIMPLE_TRANSITIONS[action]
    card = await get_card(session, card_id, merchant_id=merchant_id, holder_id=holder_id, lock=True)
    check_transition(card, action)
    _lift_freeze(card, principal)
    if target == CardStatus.FROZEN:
        _mark_frozen(card, principal, reason, now)
    card.status = target
    card.updated_at = now
    await session.flush()
    side = {"side": freeze_side(principal).value} if action in ("freeze", "unfreeze") else {}
    await card_event(session, card, event, actor=principal.actor, now=now, reason=reason, **side)
    return card


async def freeze_card(session: AsyncSession, card_id: str, **options: Any) -> Card:
    return await transition_card(session, card_id, "freeze", **options)


async def unfreeze_card(session: AsyncSession, card_id: str, **options: Any) -> Card:
    return await transition_card(session, card_id, "unfreeze", **options)


async def report_lost(session: AsyncSession, card_id: str, **options: Any) -> Card:
    return await transition_card(session, card_id, "report_lost", **options)


def _refuse_unless_empty(card_id: str) -> Any:
    def check(locked: LockedCards) -> list[Any]:
        balance: CardBalance = locked.balances[card_id]
        if balance.total != 0:
            raise IllegalCardTransition(
                f"The card still holds {balance.total} (minor units); it can be closed only "
                "when empty.",
                details={"balance": balance.total},
            )
        return []

    return check


async def close_card(
    session: AsyncSession,
    card_id: str,
    *,
    principal: Principal,
    now: datetime,
    merchant_id: str | None = None,
    holder_id: str | None = None,
    reason: str | None = None,
) -> Card:
    """Close an empty card. A card with a balance must be spent, refunded or merged first;
    the balance is read under the gate's lock, so nothing lands on it meanwhile."""
    card = await get_card(session, card_id, merchant_id=merchant_id, holder_id=holder_id, lock=True)
    check_transition(card, "close")
    _lift_freeze(card, principal)
    await move_card_value(
        session,
        [CardMovement(card.id, Direction.READ, Purpose.CLOSE)],
        _refuse_unless_empty(card.id),
        now=now,
    )
    close(card, now)
    await session.flush()
    await card_event(session, card, "card.closed", actor=principal.actor, now=now, reason=reason)
    return card


LIFECYCLE_ACTIONS = (*SIMPLE_TRANSITIONS, "close")


async def apply_lifecycle_action(
    session: AsyncSession, card_id: str, action: str, **options: Any
) -> Card:
    """One of ``LIFECYCLE_ACTIONS`` by name (the API and the console offer them alike)."""
    if action == "close":
        return await close_card(session, card_id, **options)
    return await transition_card(session, card_id, action, **options)


def close(card: Card, now: datetime, replaced_by: str | None = None) -> None:
    card.status = CardStatus.CLOSED
    card.closed_at = now
    card.updated_at = now
    card.replaced_by_card_id = replaced_by
