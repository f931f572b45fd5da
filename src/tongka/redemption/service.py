"""Redeem (核销) and authorize: one purchase, one or several cards, one atomic transaction.

Per purchase (``redeem``):

1. the (merchant, idempotency key) row is claimed (``claim.py``): a replay answers the
   first purchase, a reversed key declines ``reversed``;
2. each card is found by its number's blind index, locked and read fresh in that same
   statement, and its secret checked (wrong secrets count towards the card's lock, as for
   the balance inquiry);
3. cards named by id (a payment code) are locked (``money_gate.lock_cards``), then status,
   expiry, acceptance at this merchant and store and the decision point are checked under
   the lock;
4. the gate posts the movement: card (paid, bonus) → the *accepting* merchant's payable and
   the platform's fee income (``fees.py``), all cards or none;
5. every card's part is recorded (approved or declined with its code) with an event.

A decline is an answer that commits (its counters and record), never an exception.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts, numbers
from tongka.cards.acceptance import is_accepted_at
from tongka.cards.inquiry import LOCK_PERIOD, MAX_WRONG_SECRETS
from tongka.cards.issuing import CardStatus
from tongka.cards.keys import CardKeys
from tongka.cards.lifecycle import card_event
from tongka.cards.models import Card, CardProduct
from tongka.cards.money_gate import (
    CardMovement,
    Direction,
    LockedCards,
    Purpose,
    lock_cards,
    move_card_value,
)
from tongka.clock import ensure_utc
from tongka.config import Settings, get_settings
from tongka.events import record_event
from tongka.identity.models import Store, Terminal
from tongka.ledger import TransferRequest
from tongka.redemption.claim import claim_key
from tongka.redemption.decision_point import DecisionRequest, decide, release
from tongka.redemption.errors import AllocationInvalid, StoreNotAllowed
from tongka.redemption.fees import fee_income_account, fee_of, merchant_payable_account
from tongka.redemption.models import Redemption

DEFAULT_HOLD = timedelta(minutes=30)


@dataclass(frozen=True)
class CardCredential:
    number: str | None = None
    secret: str | None = None
    card_id: str | None = None  # resolved already (a payment code)
    share: int | None = None  # several cards: this card's part of the amount


@dataclass(frozen=True)
class RedeemRequest:
    merchant_id: str
    store_id: str | None
    terminal_id: str | None
    idempotency_key: str
    amount: int
    currency: str
    cards: Sequence[CardCredential]
    actor: str
    allow_partial: bool = False
    kind: str = "redemption"  # or "authorization"
    hold_seconds: int | None = None
    via_payment_code: bool = False
    challenge_id: str | None = None  # the holder's answer to a ``challenge_required``
    challenge_code: str | None = None


@dataclass
class Purchase:
    """The answer: every card's record, in request order."""

    id: str
    status: str  # approved | declined
    amount: int
    taken: int
    currency: str
    decline_code: str | None
    redemptions: list[Redemption]
    is_replay: bool = False
    challenge_id: str | None = None  # with ``challenge_required``: answer with its code

    @property
    def remaining(self) -> int:
        return self.amount - self.taken


class _Declined(Exception):  # noqa: N818 - control flow inside the gate's builder
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def redemption_id_of(merchant_id: str, key: str, index: int) -> str:
    """Deterministic from the idempotency key, so transfer ids are too."""
    digest = hashlib.sha256(f"{merchant_id}\n{key}\n{index}".encode()).hexdigest()[:26]
    return f"rdm_{digest}"


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


def _shares(request: RedeemRequest) -> list[int]:
    if not request.cards:
        raise AllocationInvalid("Name at least one card.", param="cards")
    if len(request.cards) == 1 and request.cards[0].share is None:
        return [request.amount]
    shares = [card.share for card in request.cards]
    if any(share is None or share <= 0 for share in shares):
        raise AllocationInvalid(
            "With several cards, give every card its positive share of the amount.",
            param="cards",
        )
    total = sum(share for share in shares if share is not None)
    if total != request.amount:
        raise AllocationInvalid(
            "The cards' shares must add up to the amount.",
            param="cards",
            details={"shares_total": total, "amount": request.amount},
        )
    return [share for share in shares if share is not None]


async def _find_card(
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


def _status_decline(card: Card, now: datetime) -> str | None:
    if card.status == CardStatus.FROZEN:
        return "card_frozen"
    if card.status == CardStatus.EXPIRED or (
        card.expires_at is not None and ensure_utc(card.expires_at) <= now
    ):
        return "card_expired"
    if card.status != CardStatus.ACTIVE:
        return "card_inactive"
    return None


def split_parts(
    available_paid: int, available_bonus: int, take: int, *, bonus_first: bool
) -> tuple[int, int]:
    """(paid, bonus) of ``take``: bonus after paid by default, before when the product says."""
    if bonus_first:
        bonus = min(available_bonus, take)
        return take - bonus, bonus
    paid = min(available_paid, take)
    return paid, take - paid


def is_bonus_spent_first(product: CardProduct) -> bool:
    """The product's choice (``CardProduct.is_bonus_spent_first``; default: paid first)."""
    return bool(product.is_bonus_spent_first)


async def redeem(
    session: AsyncSession,
    request: RedeemRequest,
    *,
    keys: CardKeys,
    fee_rate: Decimal,
    now: datetime,
    settings: Settings | None = None,
) -> Purchase:
    """Redeem (or, ``kind="authorization"``, hold) value for one purchase; see the module.
    A hold without its own ``hold_seconds`` lasts ``settings.redemption_hold_seconds``."""
    if request.kind == "authorization" and request.hold_seconds is None:
        hold = (settings or get_settings()).redemption_hold_seconds
        request = dataclasses.replace(request, hold_seconds=hold)
    shares = _shares(request)
    claimed = await claim_key(session, request.merchant_id, request.idempotency_key, now=now)
    if claimed.existing is not None:
        return await replay(session, claimed.existing, request, now=now)
    await check_place(session, request.merchant_id, request.store_id, request.terminal_id)
    purchase_id = claimed.purchase_id
    found: list[tuple[Card | None, str | None]] = []
    for credential in request.cards:
        found.append(await _find_card(session, credential, keys, now))
    card_ids = [card.id for card, _ in found if card is not None]
    if len(set(card_ids)) != len(card_ids):
        raise AllocationInvalid("Each card may appear once in a purchase.", param="cards")
    locked = await _locked(session, request, found)
    products: dict[str, CardProduct] = {}
    codes: list[str | None] = []
    allowed: list[DecisionRequest] = []  # uses the decision point reserved
    challenge_id = None
    for (card, code), share in zip(found, shares, strict=True):
        if code is None and card is not None:
            code = _status_decline(locked[card.id], now) or await _acceptance_decline(
                session, locked[card.id], request, products
            )
        if code is None and card is not None:
            asked = decision_request(locked[card.id], request, share)
            answer = await decide(session, asked, now=now, settings=settings)
            if answer.outcome == "allow":
                allowed.append(asked)
            else:
                code, challenge_id = answer.code, challenge_id or answer.challenge_id
        codes.append(code)
    takes: list[tuple[int, int]] = [(0, 0)] * len(found)
    balances_after: list[int | None] = [None] * len(found)
    decline = next((code for code in codes if code is not None), None)
    if decline is None:
        try:
            moved = [locked[c.id] for c, _ in found if c]
            takes, balances_after = await _move(
                session, request, moved, shares, now, fee_rate, products
            )
        except _Declined as declined:
            decline = declined.code
    if decline is not None:
        for asked in allowed:  # nothing was taken: the limits give the uses back
            await release(session, asked, now=now, settings=settings)
    records = await _record(
        session,
        request,
        purchase_id,
        found,
        shares,
        codes,
        decline,
        takes,
        balances_after,
        fee_rate=fee_rate,
        now=now,
    )
    taken = sum(record.amount for record in records)
    return Purchase(
        id=purchase_id,
        status="declined" if decline else "approved",
        amount=request.amount,
        taken=taken,
        currency=request.currency,
        decline_code=decline,
        redemptions=records,
        challenge_id=challenge_id,
    )


async def _locked(
    session: AsyncSession, request: RedeemRequest, found: list[tuple[Card | None, str | None]]
) -> dict[str, Card]:
    """Every found card, locked and fresh: those found by number already are
    (``_find_card``); those named by id (a payment code) are locked here."""
    locked = {
        card.id: card
        for (card, _), credential in zip(found, request.cards, strict=True)
        if card is not None and credential.card_id is None
    }
    by_id = [card.id for card, _ in found if card is not None and card.id not in locked]
    if by_id:
        locked.update(await lock_cards(session, by_id))
    return locked


async def _product(
    session: AsyncSession, products: dict[str, CardProduct], product_id: str
) -> CardProduct:
    """A card's product, read once per purchase (the session's identity map holds objects
    weakly, so a second ``session.get`` would often be a second round trip)."""
    if product_id not in products:
        product = await session.get(CardProduct, product_id)
        assert product is not None
        products[product_id] = product
    return products[product_id]


async def _acceptance_decline(
    session: AsyncSession, card: Card, request: RedeemRequest, products: dict[str, CardProduct]
) -> str | None:
    if card.currency != request.currency:
        return "not_accepted_here"
    product = await _product(session, products, card.product_id)
    # ``check_place`` made sure the store is the merchant's, in this transaction
    if not await is_accepted_at(
        session, product, request.merchant_id, request.store_id, is_store_checked=True
    ):
        return "not_accepted_here"
    return None


def decision_request(card: Card, request: RedeemRequest, share: int) -> DecisionRequest:
    return DecisionRequest(
        merchant_id=request.merchant_id,
        store_id=request.store_id,
        terminal_id=request.terminal_id,
        card_id=card.id,
        product_id=card.product_id,
        issuer_merchant_id=card.merchant_id,
        holder_id=card.holder_id,
        amount=share,
        currency=request.currency,
        kind=request.kind,
        via_payment_code=request.via_payment_code,
        challenge_id=request.challenge_id,
        challenge_code=request.challenge_code,
    )


async def _move(
    session: AsyncSession,
    request: RedeemRequest,
    cards: list[Card],
    shares: list[int],
    now: datetime,
    fee_rate: Decimal,
    products: dict[str, CardProduct],
) -> tuple[list[tuple[int, int]], list[int | None]]:
    """The gate's one posting for every card; (paid, bonus) taken and balance left each."""
    payable = await merchant_payable_account(
        session, request.merchant_id, request.currency, now=now
    )
    fee_account = await fee_income_account(session, request.currency, now=now)
    is_hold = request.kind == "authorization"
    hold = request.hold_seconds or int(DEFAULT_HOLD.total_seconds())
    for card in cards:
        await _product(session, products, card.product_id)
    takes: list[tuple[int, int]] = []
    after: list[int | None] = []

    def build(locked: LockedCards) -> list[TransferRequest]:
        transfers: list[TransferRequest] = []
        for index, (card, share) in enumerate(zip(cards, shares, strict=True)):
            balance = locked.balances[card.id]
            take = min(balance.total, share) if request.allow_partial else share
            if balance.total < share and not request.allow_partial or take <= 0:
                raise _Declined("insufficient_funds")
            product = products[card.product_id]
            paid, bonus = split_parts(
                balance.paid, balance.bonus, take, bonus_first=is_bonus_spent_first(product)
            )
            takes.append((paid, bonus))
            after.append(balance.total - take)
            rid = redemption_id_of(request.merchant_id, request.idempotency_key, index)
            fee = 0 if is_hold else card_fee(take, request.currency, fee_rate, card)
            transfers.extend(
                card_transfers(
                    rid,
                    card.id,
                    paid,
                    bonus,
                    fee,
                    payable,
                    fee_account,
                    request.currency,
                    pending_seconds=hold if is_hold else None,
                )
            )
        return transfers

    movements = [CardMovement(c.id, Direction.DEBIT, Purpose.REDEMPTION) for c in cards]
    await move_card_value(session, movements, build, now=now)
    return takes, after


def card_fee(amount: int, currency: str, fee_rate: Decimal, card: Card) -> int:
    """The fee on ``amount`` taken off ``card``: a card its acceptor did not issue takes the
    contract's other-issuer terms (``fees.fee_of``), its own cards the own-store terms."""
    return fee_of(amount, currency, fee_rate, issuer_merchant_id=card.merchant_id)


def card_transfers(
    rid: str,
    card_id: str,
    paid: int,
    bonus: int,
    fee: int,
    payable: str,
    fee_account: str,
    currency: str,
    *,
    pending_seconds: int | None = None,
) -> list[TransferRequest]:
    """Card parts → merchant payable, with the fee taken from the paid part first."""
    fee_paid = min(fee, paid)
    fee_bonus = fee - fee_paid
    legs = [
        ("paid", accounts.main_account_id(card_id), payable, paid - fee_paid),
        ("paid_fee", accounts.main_account_id(card_id), fee_account, fee_paid),
        ("bonus", accounts.bonus_account_id(card_id), payable, bonus - fee_bonus),
        ("bonus_fee", accounts.bonus_account_id(card_id), fee_account, fee_bonus),
    ]
    return [
        TransferRequest(
            transfer_id=f"{rid}:{leg}",
            debit_account_id=debit,
            credit_account_id=credit,
            amount=amount,
            currency=currency,
            code="redemption_hold" if pending_seconds else "redemption",
            reference=rid,
            metadata={"card_id": card_id, "part": leg, "redemption_id": rid},
            pending=pending_seconds is not None,
            timeout_seconds=pending_seconds,
        )
        for leg, debit, credit, amount in legs
        if amount > 0
    ]


async def _record(
    session: AsyncSession,
    request: RedeemRequest,
    purchase_id: str,
    found: list[tuple[Card | None, str | None]],
    shares: list[int],
    codes: list[str | None],
    decline: str | None,
    takes: list[tuple[int, int]],
    balances_after: list[int | None],
    *,
    fee_rate: Decimal,
    now: datetime,
) -> list[Redemption]:
    is_hold = request.kind == "authorization"
    records = []
    for index, ((card, _), share) in enumerate(zip(found, shares, strict=True)):
        paid, bonus = takes[index] if decline is None else (0, 0)
        amount = paid + bonus
        approved = decline is None
        status = ("authorized" if is_hold else "approved") if approved else "declined"
        record = Redemption(
            id=redemption_id_of(request.merchant_id, request.idempotency_key, index),
            kind=request.kind,
            status=status,
            decline_code=None if approved else (codes[index] or decline),
            merchant_id=request.merchant_id,
            store_id=request.store_id,
            terminal_id=request.terminal_id,
            card_id=card.id if card is not None else None,
            purchase_id=purchase_id,
            idempotency_key=request.idempotency_key,
            currency=request.currency,
            requested=share,
            amount=amount,
            paid=paid,
            bonus=bonus,
            fee=(
                0
                if is_hold or not approved or card is None
                else card_fee(amount, request.currency, fee_rate, card)
            ),
            captured=0,
            refunded=0,
            refunded_paid=0,
            refunded_bonus=0,
            refunded_fee=0,
            balance_after=balances_after[index] if approved else None,
            expires_at=(
                now + timedelta(seconds=request.hold_seconds or DEFAULT_HOLD.total_seconds())
                if is_hold and approved
                else None
            ),
            actor=request.actor,
            created_at=now,
            updated_at=now,
        )
        session.add(record)
        records.append(record)
        event = f"{request.kind}.{'declined' if not approved else status}"
        await record_event(
            session,
            type=event,
            object_type=request.kind,
            object_id=record.id,
            actor=request.actor,
            now=now,
            merchant_id=request.merchant_id,
            data={
                "purchase_id": purchase_id,
                "card_id": record.card_id,
                "amount": amount,
                "currency": request.currency,
                "decline_code": record.decline_code,
            },
        )
    await session.flush()
    return records


async def replay(
    session: AsyncSession, existing: object, request: RedeemRequest, *, now: datetime
) -> Purchase:
    """The first answer for this key, or ``reversed`` when its reversal came first."""
    from tongka.redemption.claim import ClaimedKey  # the row type, for the reader

    assert isinstance(existing, ClaimedKey)
    if existing.is_reversed and existing.purchase_id is None:
        return Purchase(
            id=existing.key,
            status="declined",
            amount=request.amount,
            taken=0,
            currency=request.currency,
            decline_code="reversed",
            redemptions=[],
            is_replay=True,
        )
    records = list(
        (
            await session.scalars(
                select(Redemption)
                .where(Redemption.purchase_id == existing.purchase_id)
                .order_by(Redemption.created_at, Redemption.requested)
            )
        ).all()
    )
    declined = next((r.decline_code for r in records if r.status == "declined"), None)
    if existing.is_reversed:
        declined = "reversed"
    return Purchase(
        id=existing.purchase_id or "",
        status="declined" if declined else "approved",
        amount=sum(r.requested for r in records),
        taken=sum(r.amount for r in records),
        currency=records[0].currency if records else request.currency,
        decline_code=declined,
        redemptions=records,
        is_replay=True,
    )
