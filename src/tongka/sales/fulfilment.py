"""The ``"order"`` payment listener: a paid order credits its card, in the payment's
transaction (``docs/design-sales-payments.md``).

When payments marks an order's payment succeeded (once), ``OrderListener`` locks the order
and

1. answers ``REFUND`` for an order no longer unpaid (cancelled or expired: a late payment;
   noted in its history) and for a funding type the purchase rules refuse (a credit card:
   the order is cancelled) — payments then refunds the payment in full, automatically;
2. moves it ``paid`` and fulfils it: channel receivable → the card's main account through
   ``cards.money_gate``, with the card's activation (a purchase, a till sale) or top-up,
   and the bonus leg (``claim_order_bonus``) in the same gate call; an enterprise batch is
   released to the issue job instead and activated once issued (``sales.batch_orders``);
3. moves it ``fulfilled`` and issues the receipt (``sales.receipts.issue_receipt``).

A fulfilment the card part refuses (the card was frozen, the balance would now exceed the
maximum, the issuer's quota is used up) is rolled back alone; the order is ``refunded``
and the payment given back in full. Anything else raised rolls the whole notification back
and the channel delivers again.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts
from tongka.cards.batches import cancel_batch
from tongka.cards.funding import CardFunding, activate_card, check_max_balance
from tongka.cards.issuing import issue_card
from tongka.cards.keys import card_keys
from tongka.cards.lifecycle import card_event
from tongka.cards.models import CardBatch, CardProduct
from tongka.cards.money_gate import CardMovement, Direction, LockedCards, Purpose, move_card_value
from tongka.cards.products import get_product
from tongka.cards.quota import check_quota_after
from tongka.config import Settings
from tongka.db.statements import savepoint
from tongka.errors import DomainError
from tongka.ledger import TransferRequest
from tongka.payments.accounts import channel_receivable_account
from tongka.payments.purposes import PaymentOutcome, is_registered, register_listener
from tongka.payments.views import PaymentView
from tongka.sales.models import Order
from tongka.sales.order_receipts import order_receipt
from tongka.sales.order_states import UNPAID, OrderKind, OrderStatus, move, note, reload
from tongka.sales.purchase_rules import PurchaseRefused, check_funding, get_purchase_rules

log = structlog.get_logger(__name__)

PURPOSE_KIND = "order"
# an enterprise order's batch waits for the payment (the issue job skips it until then)
BATCH_HELD_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class OrderBonus:
    """A bonus loaded with the paid value: ``amount_minor`` from ``debit_account_id``."""

    promotion_id: str
    amount_minor: int
    debit_account_id: str


@dataclass(frozen=True)
class OrderListener:
    settings: Settings

    async def payment_succeeded(
        self, session: AsyncSession, payment: PaymentView, *, now: datetime
    ) -> PaymentOutcome:
        return await settle_order(session, payment, now=now, settings=self.settings)


def register_order_listener(settings: Settings, *, replace: bool = False) -> None:
    """Register the ``"order"`` listener (the app, the worker and ``create_order`` call
    this; the first registration's settings stay unless ``replace``)."""
    if replace or not is_registered(PURPOSE_KIND):
        register_listener(PURPOSE_KIND, OrderListener(settings))


def _actor(payment: PaymentView) -> str:
    return f"channel:{payment.channel}"


async def settle_order(
    session: AsyncSession, payment: PaymentView, *, now: datetime, settings: Settings
) -> PaymentOutcome:
    """The listener's work (see the module)."""
    order = await reload(session, payment.purpose_id, lock=True)
    if order is None:  # a payment for an order that does not exist: give it back
        log.warning("sales.payment_without_order", payment_id=payment.id)
        return PaymentOutcome.REFUND
    actor = _actor(payment)
    if order.status not in UNPAID or order.payment_id not in (None, payment.id):
        await note(
            session,
            order,
            "late_payment_refunded",
            actor=actor,
            now=now,
            note=f"payment {payment.id} arrived for an order that is {order.status}",
            data={"late_payment_id": payment.id},
        )
        return PaymentOutcome.REFUND
    product = await get_product(session, order.product_id)
    from tongka.sales.orders import purchase_facts  # orders imports this module

    try:
        check_funding(
            purchase_facts(order, is_named=product.is_named),
            payment.funding_type,
            payment.channel,
            await get_purchase_rules(session, now),
        )
    except PurchaseRefused as refused:
        await move(
            session,
            order,
            UNPAID,
            OrderStatus.CANCELLED,
            event="cancelled",
            actor=actor,
            now=now,
            note=refused.message,
            data={"rule": refused.code, "funding_type": payment.funding_type},
        )
        await cancel_held_batch(session, order, actor=actor, now=now, reason=refused.code)
        return PaymentOutcome.REFUND
    await move(
        session,
        order,
        UNPAID,
        OrderStatus.PAID,
        event="paid",
        actor=actor,
        now=now,
        paid_at=payment.paid_at or now,
        payment_id=payment.id,
        channel=payment.channel,
        data={"funding_type": payment.funding_type},
    )
    try:
        async with savepoint(session):
            await fulfil(session, order, payment, now=now, settings=settings, product=product)
    except DomainError as refused:
        fresh = await reload(session, order.id)
        assert fresh is not None
        await move(
            session,
            fresh,
            [OrderStatus.PAID],
            OrderStatus.REFUNDED,
            event="refunded",
            actor=actor,
            now=now,
            note=f"the card could not be credited: {refused.message}",
            data={"code": refused.code},
            refunded_minor=fresh.amount_minor,
        )
        await cancel_held_batch(session, fresh, actor=actor, now=now, reason=refused.code)
        return PaymentOutcome.REFUND
    return PaymentOutcome.FULFILLED


async def claim_order_bonus(
    session: AsyncSession, order: Order, *, now: datetime
) -> OrderBonus | None:
    """The bonus leg (充值赠送): the one place a bonus joins a paid load.

    Asks ``sales.promotions.claim_bonus`` (the promotions part) when it is installed; its
    grant is posted in the same gate call as the paid value. Batches get no bonus."""
    if order.kind == OrderKind.BATCH:
        return None
    promotions = promotions_part()
    if promotions is None:
        return None
    grant = await promotions.claim_bonus(
        session,
        merchant_id=order.merchant_id,
        product_id=order.product_id,
        holder_id=order.holder_id,
        load_minor=order.amount_minor,
        currency=order.currency,
        order_id=order.id,
        now=now,
    )
    if grant is None:
        return None
    return OrderBonus(grant.promotion_id, grant.amount_minor, grant.debit_account_id)


def promotions_part() -> Any:
    """The promotions part's module, or None while it is not installed."""
    try:
        return importlib.import_module("tongka.sales.promotions")
    except ModuleNotFoundError:
        return None


async def mark_order_bonus_posted(
    session: AsyncSession, order_id: str, card_id: str, *, now: datetime
) -> None:
    """Tell promotions the bonus is on the card (the gate call's ``order:<id>:bonus``
    transfer), so the claim is never given back or posted twice."""
    promotions = promotions_part()
    if promotions is not None and hasattr(promotions, "mark_bonus_posted"):
        await promotions.mark_bonus_posted(
            session, order_id, card_id=card_id, transfer_id=f"order:{order_id}:bonus", now=now
        )


async def fulfil(
    session: AsyncSession,
    order: Order,
    payment: PaymentView,
    *,
    now: datetime,
    settings: Settings,
    product: CardProduct | None = None,
) -> None:
    """Credit the card (or release the batch), move ``paid → fulfilled``, issue the receipt.

    ``order`` is the order ``settle_order`` locked and moved ``paid`` in this transaction
    (held up to date by ``move``: not read again); ``product`` its product, read there."""
    debit = await channel_receivable_account(
        session, payment.channel, order.currency, now=now, merchant_id=order.merchant_id
    )
    actor = _actor(payment)
    bonus = await claim_order_bonus(session, order, now=now)
    kind = OrderKind(order.kind)
    if kind is OrderKind.BATCH:
        await release_batch(session, order)
        await order_receipt(session, order, payment, now=now, settings=settings, product=product)
        return  # fulfilled once the batch is issued and activated (sales.batch_orders)
    funding = CardFunding(
        transfer_id=f"order:{order.id}",
        debit_account_id=debit,
        amount=order.amount_minor,
        code="order_payment",
        reference=order.id,
        bonus=bonus.amount_minor if bonus else 0,
        bonus_account_id=bonus.debit_account_id if bonus else None,
    )
    card_id = order.card_id
    if kind is OrderKind.PURCHASE:
        issued = await issue_card(
            session,
            order.product_id,
            merchant_id=None,
            face_value=order.face_value_minor,
            keys=card_keys(settings),
            actor=actor,
            now=now,
            holder_id=order.holder_id,
        )
        card_id = issued.card.id
    assert card_id is not None
    issuer: tuple[str, str] | None = None
    if kind is OrderKind.TOP_UP:
        issuer = await top_up_card(session, card_id, funding, actor=actor, now=now, product=product)
    else:
        await activate_card(
            session,
            card_id,
            actor=actor,
            now=now,
            funding=funding,
            reason=f"order {order.id}",
            timezone=settings.timezone,
        )
    await move(
        session,
        order,
        [OrderStatus.PAID],
        OrderStatus.FULFILLED,
        event="fulfilled",
        actor=actor,
        now=now,
        card_id=card_id,
        bonus_minor=funding.bonus,
        promotion_id=bonus.promotion_id if bonus else None,
        bonus_account_id=bonus.debit_account_id if bonus else None,
        fulfilled_at=now,
    )
    if bonus is not None and bonus.amount_minor > 0:
        await mark_order_bonus_posted(session, order.id, card_id, now=now)
    await order_receipt(session, order, payment, now=now, settings=settings, product=product)
    if issuer is not None:
        # last: the issuer's quota lock is held from here to the commit only (cards.quota)
        await check_quota_after(session, *issuer, funding.amount + funding.bonus)


async def top_up_card(
    session: AsyncSession,
    card_id: str,
    funding: CardFunding,
    *,
    actor: str,
    now: datetime,
    product: CardProduct | None = None,
) -> tuple[str, str]:
    """充值: the paid value (and bonus) onto an active card, within the product's maximum
    balance, the balance read under the gate's lock. ``product``: the card's product if the
    caller read it in this transaction (the product row is never locked, so reading it once
    per transaction is as good as reading it here).

    The issuer's quota is the caller's to check, after (``cards.quota.check_quota_after``
    with the issuer and currency answered here, as the transaction's last step, inside the
    same savepoint as this posting): checked here, its lock would queue every top-up of the
    issuer for the rest of the transaction."""
    movement = CardMovement(card_id, Direction.CREDIT, Purpose.TOP_UP)

    async def transfers(locked: LockedCards) -> list[TransferRequest]:
        card = locked.cards[card_id]
        known = product if product is not None and product.id == card.product_id else None
        limits = known or await get_product(session, card.product_id)
        check_max_balance(limits, locked.balances[card_id].total, funding.amount + funding.bonus)
        requests = [
            TransferRequest(
                transfer_id=funding.transfer_id,
                debit_account_id=funding.debit_account_id,
                credit_account_id=accounts.main_account_id(card_id),
                amount=funding.amount,
                currency=card.currency,
                code=funding.code,
                reference=funding.reference,
                metadata={"card_id": card_id},
            )
        ]
        if funding.bonus > 0 and funding.bonus_account_id is not None:
            requests.append(
                TransferRequest(
                    transfer_id=f"{funding.transfer_id}:bonus",
                    debit_account_id=funding.bonus_account_id,
                    credit_account_id=accounts.bonus_account_id(card_id),
                    amount=funding.bonus,
                    currency=card.currency,
                    code=f"{funding.code}_bonus",
                    reference=funding.reference,
                    metadata={"card_id": card_id},
                )
            )
        return requests

    moved = await move_card_value(session, [movement], transfers, now=now)
    await card_event(
        session,
        moved.cards[card_id],
        "card.topped_up",
        actor=actor,
        now=now,
        amount=funding.amount,
        bonus=funding.bonus,
    )
    return moved.cards[card_id].merchant_id, moved.cards[card_id].currency


async def release_batch(session: AsyncSession, order: Order) -> None:
    """Let the issue job run the paid order's batch."""
    await session.execute(
        update(CardBatch)
        .where(CardBatch.id == order.batch_id, CardBatch.next_attempt_at == BATCH_HELD_UNTIL)
        .values(next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


async def cancel_held_batch(
    session: AsyncSession, order: Order, *, actor: str, now: datetime, reason: str
) -> None:
    """An enterprise order that ends unpaid (cancelled, expired, refused at payment) takes
    its held batch with it: never issued, its numbers released (``cards.cancel_batch``)."""
    if order.kind == OrderKind.BATCH and order.batch_id is not None:
        await cancel_batch(session, order.batch_id, actor=actor, now=now, reason=reason)
