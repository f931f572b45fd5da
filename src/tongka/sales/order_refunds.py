"""Refunding a fulfilled order: back through the channel it was paid with (原路退回) and off
the card, in one transaction.

* **How much.** At most what is left of the order (paid − refunded) and at most the paid
  value the card still holds, read under the card gate's lock: an unused card refunds in
  full, a partly used one at most its paid, unspent value. Bonus value is never refunded
  as cash: the order's bonus goes back to its promotion's budget in proportion to what is
  refunded (``bonus_to_take_back``), as far as it is still on the card.
* **The ledger.** The card's main account → the channel receivable the payment debited
  (for cash, the merchant's payable), through ``cards.money_gate`` (purpose
  ``sale_refund``: only from an active card). Then ``payments.refund_payment`` asks the
  channel; if the channel refuses, everything rolls back.
* **Once.** ``refund_id`` is the caller's idempotency key (and the payment refund's): a
  replay answers the first refund; the same id for another refund is refused.
* A refund receipt is issued for each refund (``sales.receipts``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts
from tongka.cards.money_gate import CardMovement, Direction, LockedCards, Purpose, move_card_value
from tongka.config import Settings
from tongka.errors import InvalidRequest, amount_detail
from tongka.ledger import TransferRequest
from tongka.payments.accounts import channel_receivable_account
from tongka.payments.service import get_payment, refund_payment
from tongka.sales import fulfilment
from tongka.sales.models import Order, OrderRefund
from tongka.sales.order_errors import (
    OrderNotRefundable,
    OrderRefundExceedsUnspent,
    OrderRefundIdConflict,
)
from tongka.sales.order_receipts import order_receipt
from tongka.sales.order_states import REFUNDABLE, OrderKind, OrderStatus, move, reload

__all__ = ["order_refunds", "record_refund", "refund_order", "refundable_minor"]


def refundable_minor(order: Order) -> int:
    """What is left of the order to refund (the card's unspent value may be less)."""
    return order.amount_minor - order.refunded_minor


async def order_refunds(session: AsyncSession, order_id: str) -> list[OrderRefund]:
    rows = await session.scalars(
        select(OrderRefund).where(OrderRefund.order_id == order_id).order_by(OrderRefund.created_at)
    )
    return list(rows.all())


def _replay(
    refund: OrderRefund, order: Order, amount_minor: int | None, card_ids: list[str] | None
) -> OrderRefund:
    refunded_cards = {str(row["card_id"]) for row in refund.cards or []}
    if (
        refund.order_id != order.id
        or amount_minor not in (None, refund.amount_minor)
        or (card_ids is not None and set(card_ids) != refunded_cards)
    ):
        raise OrderRefundIdConflict(
            f"Refund id {refund.id} was used for another refund.",
            param="refund_id",
            details={"refund_id": refund.id},
        )
    return refund


def _check_refundable(order: Order) -> None:
    if order.status not in REFUNDABLE:
        raise OrderNotRefundable(
            f"The order is {order.status}; only a fulfilled order is refunded.",
            param="order_id",
            details={"status": order.status},
        )


def bonus_to_take_back(order: Order, amount: int, *, already: int, on_card: int) -> int:
    """The bonus that goes back to its promotion's budget with a refund of ``amount``: the
    order's bonus in proportion to all that is refunded (rounded down: the holder keeps the
    fen), less what earlier refunds took back, at most the bonus still on the card (bonus
    spent is not clawed back). Never paid out: it only leaves the card."""
    if order.bonus_minor <= 0 or order.bonus_account_id is None:
        return 0
    due = order.bonus_minor * (order.refunded_minor + amount) // order.amount_minor
    return max(0, min(due - already, on_card))


async def _tell_promotions(
    session: AsyncSession, order: Order, bonus_back: int, refund_id: str, now: datetime
) -> None:
    """The bonus taken back counts in its promotion's budget again (promotions, installed)."""
    promotions = fulfilment.promotions_part()
    if bonus_back > 0 and promotions is not None:
        await promotions.take_back_bonus(
            session, order.id, amount_minor=bonus_back, refund_id=refund_id, now=now
        )


def _bonus_transfers(order: Order, refund_id: str, bonus_back: int) -> list[TransferRequest]:
    if bonus_back <= 0 or order.bonus_account_id is None or order.card_id is None:
        return []
    return [
        TransferRequest(
            transfer_id=f"order_refund:{order.id}:{refund_id}:bonus",
            debit_account_id=accounts.bonus_account_id(order.card_id),
            credit_account_id=order.bonus_account_id,
            amount=bonus_back,
            currency=order.currency,
            code="order_refund_bonus",
            reference=order.id,
            metadata={"card_id": order.card_id, "order_id": order.id, "refund_id": refund_id},
        )
    ]


async def refund_order(
    session: AsyncSession,
    order_id: str,
    *,
    refund_id: str,
    amount_minor: int | None,
    reason: str | None,
    actor: str,
    now: datetime,
    settings: Settings,
    merchant_id: str | None = None,
    card_ids: list[str] | None = None,
) -> OrderRefund:
    """Refund ``amount_minor`` (``None``: all that may be refunded) of a fulfilled order;
    an enterprise batch order refunds card by card instead (``card_ids``, ``None``: every
    card it can; ``sales.batch_refunds``).

    Raises ``OrderNotFound`` (another merchant's too), ``OrderNotRefundable``,
    ``OrderRefundExceedsUnspent``, ``OrderRefundIdConflict``, the card gate's errors (a
    frozen card) and the channel's; whatever is raised, nothing was written."""
    from tongka.sales.orders import get_order  # orders imports fulfilment, which imports us

    order = await get_order(session, order_id, merchant_id=merchant_id, lock=True)
    existing = await session.get(OrderRefund, refund_id)
    if existing is not None:
        return _replay(existing, order, amount_minor, card_ids)
    _check_refundable(order)
    if order.kind == OrderKind.BATCH:
        from tongka.sales.batch_refunds import refund_batch_order  # it imports this module

        return await refund_batch_order(
            session,
            order,
            refund_id=refund_id,
            amount_minor=amount_minor,
            card_ids=card_ids,
            reason=reason,
            actor=actor,
            now=now,
            settings=settings,
        )
    if card_ids is not None:
        raise InvalidRequest(
            "Only an enterprise batch order is refunded card by card; this order has one card.",
            code="order_refund_cards_invalid",
            param="card_ids",
            details={"problem": "not_a_batch"},
        )
    if amount_minor is not None and (type(amount_minor) is not int or amount_minor <= 0):
        raise InvalidRequest(
            "A refund's amount is a positive whole number of minor units.",
            code="invalid_amount",
            param="amount",
        )
    assert order.payment_id is not None
    assert order.channel is not None
    card_id = order.card_id
    assert card_id is not None
    receivable = await channel_receivable_account(
        session, order.channel, order.currency, now=now, merchant_id=order.merchant_id
    )
    taken: list[tuple[int, int]] = []
    bonus_back_before = sum(row.bonus_minor for row in await order_refunds(session, order.id))

    def transfers(locked: LockedCards) -> list[TransferRequest]:
        unspent = locked.balances[card_id].paid
        limit = min(refundable_minor(order), unspent)
        amount = limit if amount_minor is None else amount_minor
        if amount > limit or amount <= 0:
            raise OrderRefundExceedsUnspent(
                f"At most {limit} (minor units) can be refunded: the order has "
                f"{refundable_minor(order)} left and the card holds {unspent} paid value.",
                param="amount",
                details={
                    "refundable": amount_detail(limit, order.currency),
                    "requested": amount_detail(amount, order.currency),
                },
            )
        bonus_back = bonus_to_take_back(
            order, amount, already=bonus_back_before, on_card=locked.balances[card_id].bonus
        )
        taken.append((amount, bonus_back))
        return [
            *_bonus_transfers(order, refund_id, bonus_back),
            TransferRequest(
                transfer_id=f"order_refund:{order.id}:{refund_id}",
                debit_account_id=accounts.main_account_id(card_id),
                credit_account_id=receivable,
                amount=amount,
                currency=order.currency,
                code="order_refund",
                reference=order.id,
                metadata={"card_id": card_id, "order_id": order.id, "refund_id": refund_id},
            ),
        ]

    await move_card_value(
        session, [CardMovement(card_id, Direction.DEBIT, Purpose.SALE_REFUND)], transfers, now=now
    )
    [(amount, bonus_back)] = taken
    await _tell_promotions(session, order, bonus_back, refund_id, now)
    return await record_refund(
        session,
        order,
        refund_id=refund_id,
        amount=amount,
        bonus_back=bonus_back,
        reason=reason,
        actor=actor,
        now=now,
        settings=settings,
    )


async def record_refund(
    session: AsyncSession,
    order: Order,
    *,
    refund_id: str,
    amount: int,
    bonus_back: int,
    reason: str | None,
    actor: str,
    now: datetime,
    settings: Settings,
    cards: list[dict[str, object]] | None = None,
) -> OrderRefund:
    """After the card legs are posted: the channel pays ``amount`` back (原路退回), the
    refund row, the order's move to (partly) refunded, and the refund receipt."""
    assert order.payment_id is not None
    await refund_payment(
        session,
        order.payment_id,
        refund_id=refund_id,
        amount_minor=amount,
        reason=reason or "order refunded",
        now=now,
        settings=settings,
    )
    refund = OrderRefund(
        id=refund_id,
        order_id=order.id,
        payment_id=order.payment_id,
        amount_minor=amount,
        bonus_minor=bonus_back,
        currency=order.currency,
        reason=(reason or "")[:500],
        actor=actor,
        cards=cards or [],
        created_at=now,
    )
    session.add(refund)
    refunded = order.refunded_minor + amount
    target = OrderStatus.REFUNDED if refunded >= order.amount_minor else OrderStatus.PARTLY_REFUNDED
    moved = await move(
        session,
        order,
        REFUNDABLE,
        target,
        event="refunded" if target is OrderStatus.REFUNDED else "partly_refunded",
        actor=actor,
        now=now,
        note=reason,
        data={
            "refund_id": refund_id,
            "refund": amount_detail(amount, order.currency),
            "bonus_taken_back": amount_detail(bonus_back, order.currency),
        }
        | ({"cards": cards} if cards else {}),
        refunded_minor=refunded,
    )
    assert moved  # the order is locked: nobody changed it meanwhile
    fresh = await reload(session, order.id)
    assert fresh is not None
    payment = await get_payment(session, order.payment_id)
    await order_receipt(session, fresh, payment, now=now, settings=settings, refund=refund)
    return refund
