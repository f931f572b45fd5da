"""The gated posting of a purchase (``service.redeem`` step 4): card (paid, bonus) → the
accepting merchant's payable and the platform's fee income, all cards or none."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts
from tongka.cards.models import Card, CardProduct
from tongka.cards.money_gate import (
    CardMovement,
    Direction,
    LockedCards,
    Purpose,
    move_card_value,
)
from tongka.ledger import TransferRequest
from tongka.redemption.card_lookup import product_of
from tongka.redemption.fees import fee_income_account, fee_of, merchant_payable_account
from tongka.redemption.purchase import (
    DEFAULT_HOLD,
    CardFacts,
    Declined,
    RedeemRequest,
    redemption_id_of,
)


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


async def move_value(
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
        await product_of(session, products, card.product_id)
    takes: list[tuple[int, int]] = []
    after: list[int | None] = []

    def build(locked: LockedCards) -> list[TransferRequest]:
        transfers: list[TransferRequest] = []
        for index, (card, share) in enumerate(zip(cards, shares, strict=True)):
            balance = locked.balances[card.id]
            take = min(balance.total, share) if request.allow_partial else share
            if balance.total < share and not request.allow_partial or take <= 0:
                raise Declined("insufficient_funds")
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


def card_fee(amount: int, currency: str, fee_rate: Decimal, card: CardFacts) -> int:
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
