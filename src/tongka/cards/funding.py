"""Money onto a card as it is activated: a sold card's funding, an enterprise batch's.

Both credit through the money gate (purpose ``activation``) in the same transaction as the
status change, within the issuer's quota and the product's maximum balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts
from tongka.cards.batches import get_batch
from tongka.cards.errors import FundingAmountMismatch, IllegalCardTransition, MaxBalanceExceeded
from tongka.cards.issuing import BatchStatus, CardStatus
from tongka.cards.lifecycle import card_event, check_transition, get_card
from tongka.cards.models import Card, CardBatch, CardProduct
from tongka.cards.money_gate import CardMovement, Direction, Purpose, move_card_value
from tongka.cards.products import get_product
from tongka.cards.quota import reserve_quota
from tongka.cards.validity import DEFAULT_TIMEZONE, expiry_moment
from tongka.errors import InvalidRequest, amount_detail
from tongka.events import record_event
from tongka.ledger import AccountCode, TransferRequest


def activate_fields(card: Card, product: CardProduct, now: datetime, timezone: str) -> None:
    card.status = CardStatus.ACTIVE
    card.activated_at = now
    card.updated_at = now
    if product.validity_months is not None:
        card.expires_at = expiry_moment(now, product.validity_months, timezone)


def credits_on_activation(cards: Sequence[Card]) -> list[CardMovement]:
    return [CardMovement(card.id, Direction.CREDIT, Purpose.ACTIVATION) for card in cards]


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


def check_max_balance(product: CardProduct, current: int, adding: int) -> None:
    if current + adding > product.max_balance:
        raise MaxBalanceExceeded(
            f"The card may hold at most {product.max_balance} (minor units); it holds "
            f"{current} and {adding} more would exceed that.",
            details={
                "max_balance": amount_detail(product.max_balance, product.currency),
                "balance": amount_detail(current, product.currency),
                "adding": amount_detail(adding, product.currency),
            },
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
    timezone: str = DEFAULT_TIMEZONE,
) -> Card:
    """Activate an issued card (sold and paid): opens its ledger accounts and, with
    ``funding``, credits it in the same ledger transaction, within the issuer's quota and
    the product's maximum balance. The sales part calls this."""
    card = await get_card(session, card_id, merchant_id=merchant_id, lock=True)
    check_transition(card, "activate")
    product = await get_product(session, card.product_id)
    if funding is not None:
        check_max_balance(product, 0, funding.amount + funding.bonus)
        await reserve_quota(
            session, card.merchant_id, card.currency, funding.amount + funding.bonus
        )
    activate_fields(card, product, now, timezone)
    await session.flush()
    await accounts.open_card_accounts(session, [card], now=now)
    if funding is not None:
        await move_card_value(
            session, credits_on_activation([card]), _funding_transfers(card, funding), now=now
        )
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


async def fund_card(
    session: AsyncSession,
    card_id: str,
    *,
    transfer_reference: str,
    amount: int,
    actor: str,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> Card:
    """A finance operator activates one issued card paid by bank transfer (a card of a
    batch sold on its own, or a single card awaiting payment): the amount must equal the
    card's face value exactly and comes from the reserve bank account, like ``fund_batch``.

    The transfer id is derived from the card, so the same card is never funded twice even
    if the status check were bypassed. Refused: nothing is written."""
    reference = transfer_reference.strip()
    if not reference:
        raise InvalidRequest(
            "Give the payment's reference.", code="field_required", param="transfer_reference"
        )
    card = await get_card(session, card_id, lock=True)
    check_transition(card, "activate")
    if amount != card.face_value:
        raise FundingAmountMismatch(
            f"The card is worth {card.face_value} (minor units); the payment of {amount} "
            "does not match it.",
            param="amount",
            details={
                "problem": "card",
                "expected": amount_detail(card.face_value, card.currency),
                "amount": amount_detail(amount, card.currency),
            },
        )
    reserve = await accounts.system_account(
        session, AccountCode.RESERVE_BANK, card.currency, now=now
    )
    funding = CardFunding(
        transfer_id=f"card_funding:{card.id}",
        debit_account_id=reserve,
        amount=amount,
        code="card_funding",
        reference=reference,
    )
    return await activate_card(
        session,
        card.id,
        actor=actor,
        now=now,
        funding=funding,
        reason=f"paid: {reference}",
        timezone=timezone,
    )


async def fund_batch(
    session: AsyncSession,
    batch_id: str,
    *,
    transfer_reference: str,
    amount: int,
    actor: str,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
    debit_account_id: str | None = None,
) -> CardBatch:
    """A finance operator activates an enterprise batch paid by bank transfer.

    The recorded amount must equal the batch's value exactly; then one ledger transaction
    credits every card from the reserve bank account (or ``debit_account_id``: the channel
    receivable of a batch order paid through payments). Refused: nothing is written.
    """
    batch = await get_batch(session, batch_id)
    if batch.status != BatchStatus.COMPLETED:
        raise IllegalCardTransition(
            "Only a completed batch can be activated.", details={"problem": "batch_not_completed"}
        )
    if batch.funded_at is not None:
        raise IllegalCardTransition(
            f"The batch was already activated (transfer {batch.funding_reference}).",
            details={"problem": "batch_already_activated"},
        )
    expected = batch.total * batch.face_value
    if amount != expected:
        raise FundingAmountMismatch(
            f"The batch is worth {expected} (minor units, {batch.total} × {batch.face_value}); "
            f"the transfer of {amount} does not match it.",
            param="amount",
            details={
                "expected": amount_detail(expected, batch.currency),
                "amount": amount_detail(amount, batch.currency),
                "count": batch.total,
                "face_value": amount_detail(batch.face_value, batch.currency),
            },
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
            "activate the rest one by one.",
            details={"problem": "batch_cards_sold", "count": batch.total - len(cards)},
        )
    product = await get_product(session, batch.product_id)
    check_max_balance(product, 0, batch.face_value)
    await reserve_quota(session, batch.merchant_id, batch.currency, amount)
    reserve = debit_account_id or await accounts.system_account(
        session, AccountCode.RESERVE_BANK, batch.currency, now=now
    )
    for card in cards:
        activate_fields(card, product, now, timezone)
    await session.flush()
    await accounts.open_card_accounts(session, cards, now=now)
    await move_card_value(
        session,
        credits_on_activation(cards),
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
        independent=True,
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
