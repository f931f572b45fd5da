"""Refunding an enterprise batch order (单位批量购卡退款), card by card.

An enterprise returns cards, not an amount: the refund names the cards (``card_ids``) or
takes every card of the batch that still holds paid value (none named). Each card refunds
its paid, unspent value up to the face value it was sold with (its share of the order) —
a card partly spent refunds what is left — and is **closed** in the same transaction, so
nothing is spent from it afterwards. A card that would keep value after its refund (a
later top-up, a bonus: those belong to their own orders) is refused, naming the card and
what is left; so is a card holding no paid value when named, a card not of this batch,
and an ``amount`` (a batch refunds by card). A card closed, frozen or lost is refused by
the card gate. All or nothing: one refused card refuses the refund.

The money: each card's main account → the channel receivable the payment debited (for an
enterprise, bank transfer), through ``cards.money_gate`` (purpose ``sale_refund``, one
transfer per card, ``order_refund:<order>:<refund>:<card>``), then one
``payments.refund_payment`` of the sum — the bank channel pays it back to the payer's
recorded account (原路退回) — the refund row (with its cards), the order's move and the
refund receipt (``order_refunds.record_refund``). Idempotent on ``refund_id`` like every
order refund.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts
from tongka.cards.issuing import CardStatus
from tongka.cards.lifecycle import card_event, close
from tongka.cards.models import Card
from tongka.cards.money_gate import CardMovement, Direction, LockedCards, Purpose, move_card_value
from tongka.config import Settings
from tongka.errors import InvalidRequest, amount_detail
from tongka.ledger import TransferRequest
from tongka.payments.accounts import channel_receivable_account
from tongka.sales.models import Order, OrderRefund
from tongka.sales.order_errors import OrderRefundExceedsUnspent
from tongka.sales.order_refunds import record_refund, refundable_minor

__all__ = ["refund_batch_order"]

MAX_CARDS_PER_REFUND = 10_000


class BatchRefundRefused(InvalidRequest):
    """A batch refund's cards cannot be refunded as asked (``problem`` says why)."""

    code = "order_refund_cards_invalid"


def _refused(message: str, problem: str, **details: object) -> BatchRefundRefused:
    return BatchRefundRefused(message, param="card_ids", details={"problem": problem, **details})


async def _cards_to_refund(
    session: AsyncSession, order: Order, card_ids: list[str] | None
) -> list[str]:
    statement = select(Card.id, Card.status).where(Card.batch_id == order.batch_id)
    if card_ids is not None:
        if not card_ids:
            raise _refused("Name at least one card to refund.", "empty")
        statement = statement.where(Card.id.in_(set(card_ids)))
    found = dict((await session.execute(statement)).tuples().all())
    if card_ids is None:
        return sorted(card_id for card_id, status in found.items() if status == CardStatus.ACTIVE)
    strangers = sorted(set(card_ids) - set(found))
    if strangers:
        raise _refused(
            f"{len(strangers)} of the cards named are not cards of this order's batch.",
            "not_in_batch",
            card_ids=strangers[:20],
        )
    return sorted(set(card_ids))


async def refund_batch_order(
    session: AsyncSession,
    order: Order,
    *,
    refund_id: str,
    amount_minor: int | None,
    card_ids: list[str] | None,
    reason: str | None,
    actor: str,
    now: datetime,
    settings: Settings,
) -> OrderRefund:
    """Refund and close the batch's cards (see the module); ``order`` is locked and
    refundable. Whatever is raised, nothing was written."""
    if amount_minor is not None:
        raise _refused(
            "An enterprise batch is refunded card by card: name the cards (card_ids), "
            "not an amount.",
            "amount_with_batch",
        )
    if card_ids is not None and len(card_ids) > MAX_CARDS_PER_REFUND:
        raise _refused(
            f"A refund names at most {MAX_CARDS_PER_REFUND:,} cards.",
            "too_many",
            maximum=MAX_CARDS_PER_REFUND,
        )
    assert order.channel is not None
    ids = await _cards_to_refund(session, order, card_ids)
    receivable = await channel_receivable_account(
        session, order.channel, order.currency, now=now, merchant_id=order.merchant_id
    )
    refunded: list[tuple[str, int]] = []

    def transfers(locked: LockedCards) -> list[TransferRequest]:
        requests: list[TransferRequest] = []
        for card_id in ids:
            balance = locked.balances[card_id]
            amount = min(balance.paid, order.face_value_minor)
            if amount <= 0:
                if card_ids is None:
                    continue  # spent in full: nothing to give back, the card stays
                raise _refused(
                    "A card named holds no paid value to refund.", "no_paid_value", card_id=card_id
                )
            left = balance.total - amount
            if left != 0:
                raise _refused(
                    f"A card would keep {left} (minor units) after its refund (a later "
                    "top-up or a bonus): refund or spend that first.",
                    "card_keeps_value",
                    card_id=card_id,
                    left=amount_detail(left, order.currency),
                )
            refunded.append((card_id, amount))
            requests.append(
                TransferRequest(
                    transfer_id=f"order_refund:{order.id}:{refund_id}:{card_id}",
                    debit_account_id=accounts.main_account_id(card_id),
                    credit_account_id=receivable,
                    amount=amount,
                    currency=order.currency,
                    code="order_refund",
                    reference=order.id,
                    metadata={"card_id": card_id, "order_id": order.id, "refund_id": refund_id},
                )
            )
        total = sum(request.amount for request in requests)
        if total <= 0 or total > refundable_minor(order):
            limit = min(refundable_minor(order), total)
            raise OrderRefundExceedsUnspent(
                f"At most {limit} (minor units) can be refunded: no card of the order holds "
                "paid value it can give back.",
                param="card_ids",
                details={
                    "refundable": amount_detail(limit, order.currency),
                    "requested": amount_detail(total, order.currency),
                },
            )
        return requests

    moved = await move_card_value(
        session,
        [CardMovement(card_id, Direction.DEBIT, Purpose.SALE_REFUND) for card_id in ids],
        transfers,
        now=now,
        independent=True,
    )
    for card_id, _ in refunded:
        card = moved.cards[card_id]
        close(card, now)
        await card_event(
            session, card, "card.closed", actor=actor, now=now, reason=f"refunded: {order.id}"
        )
    await session.flush()
    return await record_refund(
        session,
        order,
        refund_id=refund_id,
        amount=sum(amount for _, amount in refunded),
        bonus_back=0,
        reason=reason,
        actor=actor,
        now=now,
        settings=settings,
        cards=[{"card_id": card_id, "amount_minor": amount} for card_id, amount in refunded],
    )
