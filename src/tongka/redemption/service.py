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
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.acceptance import is_accepted_at
from tongka.cards.keys import CardKeys
from tongka.cards.models import Card, CardProduct
from tongka.cards.money_gate import CardMovement, Direction, Purpose, lock_cards
from tongka.config import Settings, get_settings
from tongka.redemption import fast_path
from tongka.redemption.card_lookup import check_place, find_card, product_of, status_decline
from tongka.redemption.claim import claim_key
from tongka.redemption.decision_point import DecisionRequest, decide, release
from tongka.redemption.errors import AllocationInvalid
from tongka.redemption.movement import (
    card_fee,
    card_transfers,
    is_bonus_spent_first,
    move_value,
    split_parts,
)
from tongka.redemption.purchase import (
    DEFAULT_HOLD,
    CardCredential,
    Declined,
    Purchase,
    RedeemRequest,
    decision_request,
    redemption_id_of,
)
from tongka.redemption.records import (
    orm_records,
    purchase_record_rows,
    record_purchase,
    replay,
)

__all__ = [
    "DEFAULT_HOLD",
    "CardCredential",
    "CardMovement",
    "Direction",
    "Purchase",
    "Purpose",
    "RedeemRequest",
    "card_fee",
    "card_transfers",
    "check_place",
    "decision_request",
    "is_bonus_spent_first",
    "redeem",
    "redemption_id_of",
    "replay",
    "split_parts",
]


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
    if fast_path.applies(session, request, settings):
        fast = await fast_path.redeem_one(
            session, request, purchase_id, keys=keys, fee_rate=fee_rate, now=now, settings=settings
        )
        if fast is not None:
            return fast
    found: list[tuple[Card | None, str | None]] = []
    for credential in request.cards:
        found.append(await find_card(session, credential, keys, now))
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
            code = status_decline(locked[card.id], now) or await _acceptance_decline(
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
            takes, balances_after = await move_value(
                session, request, moved, shares, now, fee_rate, products
            )
        except Declined as declined:
            decline = declined.code
    if decline is not None:
        for asked in allowed:  # nothing was taken: the limits give the uses back
            await release(session, asked, now=now, settings=settings)
    rows = purchase_record_rows(
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
    records = await record_purchase(session, request, orm_records(rows), now=now)
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
    (``find_card``); those named by id (a payment code) are locked here."""
    locked = {
        card.id: card
        for (card, _), credential in zip(found, request.cards, strict=True)
        if card is not None and credential.card_id is None
    }
    by_id = [card.id for card, _ in found if card is not None and card.id not in locked]
    if by_id:
        locked.update(await lock_cards(session, by_id))
    return locked


async def _acceptance_decline(
    session: AsyncSession, card: Card, request: RedeemRequest, products: dict[str, CardProduct]
) -> str | None:
    if card.currency != request.currency:
        return "not_accepted_here"
    product = await product_of(session, products, card.product_id)
    # ``check_place`` made sure the store is the merchant's, in this transaction
    if not await is_accepted_at(
        session, product, request.merchant_id, request.store_id, is_store_checked=True
    ):
        return "not_accepted_here"
    return None
