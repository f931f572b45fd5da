"""The one gate for a card's money (ARCHITECTURE rule 13, ``docs/decisions/0008``).

Every path that puts value on a card or takes it off — activation and batch funding,
reissue, merge, close, breakage, exchange, and the coming top-up, redemption, refund and
buy-back — calls ``move_card_value``. In one transaction with the ledger write it

1. locks the named cards' rows in sorted id order (``SELECT ... FOR UPDATE`` on PostgreSQL;
   SQLite serializes writers with ``BEGIN IMMEDIATE``), re-reading them from the database;
2. checks each card's status against ``ALLOWED`` for the movement's purpose and direction
   (a frozen card is never debited: no purpose allows it);
3. reads the cards' balances *under the lock*, and lets a builder turn them into transfers
   when the path moves "the whole balance" (reissue, merge, breakage, exchange);
4. refuses (a programming error, ``UngatedCardTransfer``) any transfer that touches a card
   account whose card is not locked with that direction;
5. posts the transfers through the ledger, all or nothing.

Nothing else in ``src/tongka`` posts to card accounts: ``tests/unit/test_card_gate_scan.py``
scans the source for ledger posting calls outside the ledger and this module.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.cards.accounts import CardBalance, card_balances, card_of_account
from tongka.cards.errors import CardFrozen, CardMovementRefused, CardNotFound
from tongka.cards.issuing import CardStatus
from tongka.cards.models import Card
from tongka.db.statements import AnyUnitOfWork, savepoint
from tongka.ledger import Transfer, TransferRequest


class Direction(enum.StrEnum):
    DEBIT = "debit"  # value leaves the card
    CREDIT = "credit"  # value arrives on the card
    READ = "read"  # locked and read only: no transfer may touch the card (close)


class Purpose(enum.StrEnum):
    ACTIVATION = "activation"  # a sale's load as the card is activated, a batch's funding
    TOP_UP = "top_up"  # 充值 onto a card in use
    REDEMPTION = "redemption"  # spent at a merchant (authorize or direct capture)
    REFUND = "refund"  # a redemption given back
    BUYBACK = "buyback"  # the platform buys the card's value from its holder
    REISSUE = "reissue"  # 补卡: a lost card's balance onto its replacement
    MERGE = "merge"  # 并卡: sources onto a target
    CLOSE = "close"  # closing: the balance is read under the lock, nothing moves
    BREAKAGE = "breakage"  # an expired card's balance forfeited
    EXCHANGE = "exchange"  # an expired card's balance onto a new card, the rest breakage
    HOLD_RELEASE = "hold_release"  # an authorization's hold voided: the value was never taken
    SALE_REFUND = "sale_refund"  # a paid order refunded: its paid value leaves the card
    CARD_RETURN = "card_return"  # 退卡: the paid value paid out to its holder, bonus forfeited


ACTIVE, FROZEN, LOST, EXPIRED = (
    CardStatus.ACTIVE,
    CardStatus.FROZEN,
    CardStatus.LOST,
    CardStatus.EXPIRED,
)

# purpose -> direction -> the statuses a card may have when value moves that way.
# No entry debits a frozen card; a direction missing under a purpose is refused.
ALLOWED: dict[Purpose, dict[Direction, frozenset[CardStatus]]] = {
    Purpose.ACTIVATION: {Direction.CREDIT: frozenset({ACTIVE})},
    Purpose.TOP_UP: {Direction.CREDIT: frozenset({ACTIVE})},
    Purpose.REDEMPTION: {Direction.DEBIT: frozenset({ACTIVE})},
    # value given back may land on a card frozen since: it stays there, frozen
    Purpose.REFUND: {Direction.CREDIT: frozenset({ACTIVE, FROZEN})},
    Purpose.BUYBACK: {Direction.DEBIT: frozenset({ACTIVE})},
    Purpose.REISSUE: {Direction.DEBIT: frozenset({LOST}), Direction.CREDIT: frozenset({ACTIVE})},
    Purpose.MERGE: {Direction.DEBIT: frozenset({ACTIVE}), Direction.CREDIT: frozenset({ACTIVE})},
    Purpose.CLOSE: {Direction.READ: frozenset({ACTIVE, FROZEN})},
    Purpose.BREAKAGE: {Direction.DEBIT: frozenset({EXPIRED})},
    Purpose.EXCHANGE: {
        Direction.DEBIT: frozenset({EXPIRED}),
        Direction.CREDIT: frozenset({ACTIVE}),
    },
    # releasing a hold only gives back what phase one reserved, whatever befell the card since
    Purpose.HOLD_RELEASE: {Direction.CREDIT: frozenset({ACTIVE, FROZEN, LOST, EXPIRED})},
    # an order refunded (sales): only from a card in use, never a frozen one
    Purpose.SALE_REFUND: {Direction.DEBIT: frozenset({ACTIVE})},
    # a card returned under the regulation (sales): only a card in use, never a frozen one
    Purpose.CARD_RETURN: {Direction.DEBIT: frozenset({ACTIVE})},
}


@dataclass(frozen=True)
class CardMovement:
    """One card a money path touches, which way, and why."""

    card_id: str
    direction: Direction
    purpose: Purpose


@dataclass(frozen=True)
class LockedCards:
    """What the gate holds while it decides: the locked cards (fresh from the database)
    and their available balances, read under the lock."""

    cards: Mapping[str, Card]
    balances: Mapping[str, CardBalance]


@dataclass(frozen=True)
class MovedValue:
    cards: Mapping[str, Card]
    balances_before: Mapping[str, CardBalance]
    transfers: list[Transfer]


TransferBuilder = Callable[
    [LockedCards], Sequence[TransferRequest] | Awaitable[Sequence[TransferRequest]]
]


class UngatedCardTransfer(RuntimeError):
    """A transfer touches a card account the gate was not asked to lock that way: a bug in
    the calling path (never a caller's input), so it is not a domain error."""


# ids per locking statement: under SQLite's bound-parameter limit, in sorted order
LOCK_CHUNK = 5_000
# transfers per ``post_batch`` call (independent transfers only), for the same reason
POST_CHUNK = 5_000


async def move_card_value(
    session: AsyncSession,
    movements: Sequence[CardMovement],
    transfers: Sequence[TransferRequest] | TransferBuilder,
    *,
    now: datetime,
    independent: bool = False,
) -> MovedValue:
    """Lock, check, (build,) post: the only way value moves on or off a card.

    ``transfers`` is a list, or a builder called with the ``LockedCards`` (balances read
    under the lock) that returns the list; a builder may raise a domain error to refuse,
    and nothing is written. ``independent=True`` posts transfers that do not depend on each
    other (a batch's one per card) in large chunks, still all or nothing. Raises
    ``CardNotFound``, ``CardMovementRefused`` / ``CardFrozen``, the ledger's errors, and
    ``UngatedCardTransfer`` for a transfer the movements do not cover.
    """
    locked_cards = await lock_cards(session, [m.card_id for m in movements])
    for movement in movements:
        check_movement(locked_cards[movement.card_id], movement)
    locked = LockedCards(
        cards=locked_cards, balances=await card_balances(session, list(locked_cards.values()))
    )
    requests = transfers(locked) if callable(transfers) else transfers
    if inspect.isawaitable(requests):
        requests = await requests
    requests = list(requests)
    _check_covered(requests, movements)
    posted = await (_post_independent if independent else _post)(session, requests, now=now)
    return MovedValue(cards=locked.cards, balances_before=locked.balances, transfers=posted)


@dataclass(frozen=True)
class CardLockedByCaller:
    """A card row its caller has just locked (``SELECT ... FOR UPDATE`` in this transaction)
    and read in that same statement: what ``check_movement`` needs of it."""

    id: str
    status: str
    frozen_by_side: str | None = None
    frozen_reason: str | None = None


async def move_value_of_locked_card(
    session: AsyncSession,
    card: CardLockedByCaller,
    movement: CardMovement,
    transfers: Sequence[TransferRequest],
    *,
    now: datetime,
) -> list[Transfer]:
    """``move_card_value`` for one card the caller locked and read itself, in one statement
    with what else it needed (the redemption fast path reads the card and its product
    together): the status is checked against ``ALLOWED`` and every transfer must be
    covered by the movement, as in ``move_card_value``; only the second lock and re-read
    are skipped. The caller must hold the row lock: without it the status could change
    before the commit."""
    _check_locked_by_caller([card], [movement], transfers)
    return await _post(session, transfers, now=now)


async def move_value_of_locked_cards(
    session: AnyUnitOfWork,
    cards: Sequence[CardLockedByCaller],
    movements: Sequence[CardMovement],
    transfers: Sequence[TransferRequest],
    *,
    now: datetime,
) -> list[Transfer]:
    """``move_value_of_locked_card`` for many cards at once (the redemption lane: the
    purchases of one batch), posted with ``post_batch`` in one statement where it can be.
    The ledger decides the transfers in order against the balances, so two debits of one
    card account can never overdraw it; any refusal undoes all of them and is raised."""
    _check_locked_by_caller(cards, movements, transfers)
    return await _post_independent(session, transfers, now=now)


def _check_locked_by_caller(
    cards: Sequence[CardLockedByCaller],
    movements: Sequence[CardMovement],
    transfers: Sequence[TransferRequest],
) -> None:
    by_id = {card.id: card for card in cards}
    for movement in movements:
        card = by_id.get(movement.card_id)
        if card is None:
            raise UngatedCardTransfer(f"movement for {movement.card_id}, a card not locked")
        check_movement(card, movement)
    _check_covered(transfers, movements)


async def lock_cards(
    session: AsyncSession, card_ids: Sequence[str], *, param: str = "card_id"
) -> dict[str, Card]:
    """Lock cards in id order (no deadlock between two paths) and re-read them: a card the
    session loaded earlier is refreshed, so its status is the committed one. A path that
    must check more than the status first (scope, product) calls this before
    ``move_card_value``, which then re-locks nothing new."""
    await session.flush()  # pending changes first: the re-read would overwrite them
    ordered = sorted(set(card_ids))
    cards: dict[str, Card] = {}
    for start in range(0, len(ordered), LOCK_CHUNK):
        statement = (
            select(Card)
            .where(Card.id.in_(ordered[start : start + LOCK_CHUNK]))
            .order_by(Card.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        cards.update((card.id, card) for card in (await session.scalars(statement)).all())
    missing = [card_id for card_id in ordered if card_id not in cards]
    if missing:
        raise CardNotFound("No such card.", param=param)  # which one: not said (tenants)
    return cards


def check_movement(card: Card | CardLockedByCaller, movement: CardMovement) -> None:
    allowed = ALLOWED[movement.purpose].get(movement.direction, frozenset())
    if card.status in allowed:
        return
    details = {
        "card_id": card.id,
        "status": card.status,
        "direction": movement.direction.value,
        "purpose": movement.purpose.value,
        "allowed": sorted(status.value for status in allowed),
    }
    purpose = movement.purpose.value.replace("_", " ")
    if card.status == CardStatus.FROZEN:
        side = card.frozen_by_side or "platform"
        raise CardFrozen(
            f"The card is frozen (by the {side}: {card.frozen_reason or 'no reason given'}); "
            f"a {purpose} cannot {movement.direction.value} it.",
            details=details | {"frozen_by": side, "reason": card.frozen_reason},
        )
    names = ", ".join(details["allowed"]) or "no status"
    raise CardMovementRefused(
        f"A {purpose} cannot {movement.direction.value} a card that is {card.status} "
        f"(only: {names}).",
        details=details,
    )


def _check_covered(requests: Sequence[TransferRequest], movements: Sequence[CardMovement]) -> None:
    declared = {(m.card_id, m.direction) for m in movements}
    for request in requests:
        for account_id, direction in (
            (request.debit_account_id, Direction.DEBIT),
            (request.credit_account_id, Direction.CREDIT),
        ):
            card_id = card_of_account(account_id)
            if card_id is not None and (card_id, direction) not in declared:
                raise UngatedCardTransfer(
                    f"transfer {request.transfer_id} would {direction.value} card {card_id}, "
                    "which the gate did not lock for that direction"
                )


async def _post(
    session: AsyncSession, transfers: Sequence[TransferRequest], *, now: datetime
) -> list[Transfer]:
    """One atomic ledger transaction; nothing is posted for an empty list."""
    if not transfers:
        return []
    return await ledger.post_transfers(session, list(transfers), now=now)


async def _post_independent(
    session: AnyUnitOfWork, transfers: Sequence[TransferRequest], *, now: datetime
) -> list[Transfer]:
    """Like ``_post`` (all or nothing) for very many transfers that do not depend on each
    other, such as a batch activation's one per card.

    ``post_transfers`` costs round trips per transfer and per account; ``post_batch`` writes
    a chunk in a few statements but decides each transfer alone, so a savepoint undoes
    every chunk when any transfer is refused, and that refusal is raised. (On SQLite
    ``post_batch`` looks a chunk's transfer ids up in one ``IN (...)``, which must stay under
    its 32,766 bound parameters.)
    """
    posted: list[Transfer] = []
    async with savepoint(session):
        for start in range(0, len(transfers), POST_CHUNK):
            chunk = transfers[start : start + POST_CHUNK]
            for result in await ledger.post_batch(session, chunk, now=now):
                if result.error is not None:
                    raise result.error
                if result.transfer is not None:
                    posted.append(result.transfer)
    return posted


@dataclass(frozen=True)
class HoldResolution:
    """Phase two of a hold on a card (``docs/decisions/0012``): post ``amount`` of the pending
    transfer ``pending_id`` (``None``: all of it) or, with ``void=True``, release it."""

    transfer_id: str
    pending_id: str
    amount: int | None = None
    void: bool = False


async def resolve_card_holds(
    session: AsyncSession,
    movements: Sequence[CardMovement],
    resolutions: Sequence[HoldResolution],
    *,
    now: datetime,
    then: Sequence[TransferRequest] = (),
) -> list[Transfer]:
    """Phase two of card holds through the gate: the cards are locked and their status
    checked (a capture is a ``REDEMPTION`` debit, a void a ``HOLD_RELEASE`` credit) in the
    same transaction as the ledger's ``post_pending`` / ``void_pending``; ``then`` are
    transfers posted after them (a capture's fee), all or nothing."""
    locked_cards = await lock_cards(session, [m.card_id for m in movements])
    for movement in movements:
        check_movement(locked_cards[movement.card_id], movement)
    _check_covered(list(then), movements)
    posted: list[Transfer] = []
    async with session.begin_nested():  # all or nothing
        for resolution in resolutions:
            if resolution.void:
                posted.append(
                    await ledger.void_pending(
                        session,
                        transfer_id=resolution.transfer_id,
                        pending_id=resolution.pending_id,
                        now=now,
                    )
                )
            else:
                posted.append(
                    await ledger.post_pending(
                        session,
                        transfer_id=resolution.transfer_id,
                        pending_id=resolution.pending_id,
                        amount=resolution.amount,
                        now=now,
                    )
                )
        posted.extend(await _post(session, list(then), now=now))
        return posted
