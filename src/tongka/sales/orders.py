"""Orders (``sales.orders``): buy a card, top one up, sell at the till, buy a batch.

``create_order`` checks everything it can before any payment is asked for — the product
(active, the face value one it allows, top-ups allowed, the maximum balance after the
top-up, the currency) and the purchase rules (``sales.purchase_rules``) — then records the
order, asks ``payments`` for the payment and answers what the payer's client needs. The
payment's success reaches the order through ``sales.fulfilment`` (the ``"order"``
listener), which credits the card and issues the receipt in the same transaction.

Every function takes the caller's session (the caller commits) and ``now``. Every status
change goes through ``order_states.move`` (history row + ``order.*`` event).

**Why the channel is still called inside the order's transaction** (issue #11 asked whether
it can move out; measured in bench/RESULTS.md, "Sales over HTTP", 2026-12-04). What the
transaction holds while the gateway answers is its own: the caller's ``Idempotency-Key``
row, the new order, its history and events, the new payment. No row another request needs
is locked before the call (routing only reads the channel's configuration and health; the
breaker writes after the call, and only when there is a failure count to reset), so the
open transaction costs a pooled connection for the call's duration, not a queue. What
keeps it inside is crash and retry safety, which one transaction gives for free: the
order, its payment and the stored answer commit together or not at all, so a retry with
the same key either replays the first answer or runs from scratch. Moving the call out
needs, all of them:

1. the order's id derived from (caller, key), so a re-run of the request finds the order
   the first run committed instead of making a second;
2. a first transaction committing the order ``awaiting_payment`` with its payment
   ``created`` (and its notify URL, amount, description: the request to the channel);
3. the channel asked outside any transaction, under the payment's id, so that asking
   twice is harmless: the sandbox's WeChat Pay, Alipay and UnionPay answer a repeated
   merchant order number of the same amount, while unpaid, with the same payment (each
   real channel's rule for a repeated ``out_trade_no`` / ``orderId`` to be checked);
4. a second transaction moving the payment ``created → awaiting`` by a conditional UPDATE
   (a notification may already have settled it: a scanned code), storing the instructions
   and sealing the response with the key;
5. a retry that finds the key's row still unanswered and older than a lease taking the
   request over (today it answers 409 ``idempotency_request_in_progress`` until the row
   expires: a crash between 2 and 4 would leave the client without an answer for 24 h),
   and the expiry job closing a ``created`` payment at the channel like an ``awaiting`` one.

Until that is built (``api.idempotency`` and ``payments.service`` both change), the call
stays where it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.accounts import card_balance
from tongka.cards.batches import create_batch
from tongka.cards.funding import check_max_balance
from tongka.cards.issuing import CardStatus, check_face_value, issuable_product
from tongka.cards.lifecycle import get_card
from tongka.cards.models import Card, CardProduct
from tongka.clock import business_date
from tongka.config import Settings
from tongka.ids import new_id
from tongka.payments.channel import PaymentMethod
from tongka.payments.models import PaymentStatus
from tongka.payments.parties import mask_name
from tongka.payments.service import close_payment, start_payment
from tongka.payments.views import StartedPayment
from tongka.sales import fulfilment
from tongka.sales.models import Order, OrderHistory
from tongka.sales.order_errors import InvalidOrder, OrderNotCancellable, OrderNotFound
from tongka.sales.order_states import (
    UNPAID,
    OrderKind,
    OrderStatus,
    mark_written,
    move,
    record_created,
)
from tongka.sales.purchase_rules import BuyerKind, PurchaseFacts, PurchaseKind, check_purchase

__all__ = [
    "CreatedOrder",
    "OrderRequest",
    "cancel_order",
    "create_order",
    "get_order",
    "order_history",
    "orders_query",
    "purchase_facts",
]

PURPOSE_KIND = fulfilment.PURPOSE_KIND


@dataclass(frozen=True)
class OrderRequest:
    """What a caller asks for. ``merchant_id`` is the calling merchant (``None``: a holder
    buying, the product's issuer sells); ``holder_id`` the consumer who will hold the card.
    ``buyer_name`` is the buyer's real name when given (recorded masked)."""

    kind: OrderKind
    method: PaymentMethod
    actor: str
    buyer_key: str
    merchant_id: str | None = None
    store_id: str | None = None  # the till's store (a store-bound caller)
    channel: str | None = None
    product_id: str | None = None
    face_value_minor: int | None = None
    card_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    card_count: int = 1
    holder_id: str | None = None
    buyer_kind: BuyerKind = BuyerKind.PERSON
    buyer_name: str | None = None
    payer_code: str | None = None
    payer_openid: str | None = None
    export_password: str | None = field(default=None, repr=False)
    reference: str | None = None


@dataclass(frozen=True)
class CreatedOrder:
    order: Order
    payment: StartedPayment


@dataclass(frozen=True)
class _Priced:
    """The checked shape of an order: what it is of, and what it costs."""

    product: CardProduct
    card: Card | None
    face_value: int
    count: int
    amount: int


def _invalid(problem: str, message: str, param: str, **details: object) -> InvalidOrder:
    return InvalidOrder(message, param=param, details={"problem": problem, **details})


def _check_currency(product: CardProduct, currency: str | None) -> None:
    if currency is not None and currency != product.currency:
        raise _invalid(
            "currency",
            f"{product.name} is sold in {product.currency}, not {currency}.",
            "currency",
            currency=currency,
            product_currency=product.currency,
        )


async def _priced_purchase(session: AsyncSession, request: OrderRequest) -> _Priced:
    if request.product_id is None or request.face_value_minor is None:
        raise _invalid("product", "Name the product and the face value to buy.", "product_id")
    product = await issuable_product(session, request.product_id, request.merchant_id)
    _check_currency(product, request.currency)
    check_face_value(product, request.face_value_minor)
    check_max_balance(product, 0, request.face_value_minor)
    count = request.card_count if request.kind is OrderKind.BATCH else 1
    if request.kind is OrderKind.BATCH and not request.export_password:
        raise _invalid(
            "export_password", "A batch needs the password of its export.", "export_password"
        )
    if request.kind is OrderKind.PURCHASE and product.is_named and request.holder_id is None:
        raise _invalid("holder", "A named card is bought for its holder.", "holder_id")
    return _Priced(product, None, request.face_value_minor, count, request.face_value_minor * count)


async def _priced_card(session: AsyncSession, request: OrderRequest) -> _Priced:
    """A top-up (a card in use) or a till sale (an issued card): the card decides."""
    if request.card_id is None:
        raise _invalid("card", "Name the card.", "card_id")
    card = await get_card(
        session,
        request.card_id,
        merchant_id=request.merchant_id,
        holder_id=request.holder_id if request.merchant_id is None else None,
    )
    product = await issuable_product(session, card.product_id, None)
    _check_currency(product, request.currency)
    if request.kind is OrderKind.TILL_SALE:
        if card.status != CardStatus.ISSUED:
            raise _invalid(
                "card_status", "Only an issued, unsold card is sold.", "card_id", status=card.status
            )
        return _Priced(product, card, card.face_value, 1, card.face_value)
    if not product.is_top_up_allowed:
        raise _invalid("top_up_not_allowed", f"{product.name} cannot be topped up.", "card_id")
    if card.status != CardStatus.ACTIVE:
        raise _invalid(
            "card_status", "Only an active card is topped up.", "card_id", status=card.status
        )
    amount = request.amount_minor
    if amount is None or type(amount) is not int or amount <= 0:
        raise _invalid("amount", "A top-up is a positive amount.", "amount")
    balance = await card_balance(session, card)
    check_max_balance(product, balance.total, amount)
    return _Priced(product, card, amount, 1, amount)


async def _price(session: AsyncSession, request: OrderRequest) -> _Priced:
    if request.kind in (OrderKind.PURCHASE, OrderKind.BATCH):
        return await _priced_purchase(session, request)
    return await _priced_card(session, request)


def purchase_facts(order: Order, *, is_named: bool) -> PurchaseFacts:
    return PurchaseFacts(
        buyer_kind=BuyerKind(order.buyer_kind),
        buyer_key=order.buyer_key,
        holder_id=order.holder_id,
        is_real_name_given=order.is_real_name_given,
        is_named=is_named,
        kind=PurchaseKind.TOP_UP if order.kind == OrderKind.TOP_UP else PurchaseKind.PURCHASE,
        amount_minor=order.amount_minor,
        currency=order.currency,
        channel=order.channel,
        method=order.method,
        card_count=order.card_count,
    )


async def create_order(
    session: AsyncSession, request: OrderRequest, *, now: datetime, settings: Settings
) -> CreatedOrder:
    """Check, record, and ask for the payment (see the module). A refused order leaves
    nothing behind; a cash or scanned-code payment may be fulfilled before this returns."""
    fulfilment.register_order_listener(settings)
    request = replace(
        request,
        kind=OrderKind(request.kind),
        method=PaymentMethod(request.method),
        buyer_kind=BuyerKind(request.buyer_kind),
    )
    priced = await _price(session, request)
    real_name = (request.buyer_name or "").strip()
    order = Order(
        id=new_id("ord"),
        merchant_id=priced.product.merchant_id,
        store_id=request.store_id,
        kind=OrderKind(request.kind).value,
        status=OrderStatus.CREATED.value,
        product_id=priced.product.id,
        card_id=priced.card.id if priced.card is not None else None,
        face_value_minor=priced.face_value,
        card_count=priced.count,
        amount_minor=priced.amount,
        bonus_minor=0,
        refunded_minor=0,
        currency=priced.product.currency,
        buyer_kind=request.buyer_kind.value,
        buyer_key=request.buyer_key[:120],
        holder_id=request.holder_id or (priced.card.holder_id if priced.card is not None else None),
        buyer_name_masked=mask_name(real_name) if real_name else None,
        is_real_name_given=bool(real_name),
        method=PaymentMethod(request.method).value,
        channel=request.channel,
        batch_options=_batch_options(request),
        business_date=business_date(now, settings.timezone),
        created_by=request.actor,
        expires_at=now + timedelta(seconds=settings.order_expiry_seconds),
        created_at=now,
        updated_at=now,
    )
    await check_purchase(
        session,
        purchase_facts(order, is_named=priced.product.is_named),
        now=now,
        business_date=order.business_date,
    )
    if request.kind is OrderKind.BATCH:
        order.batch_id = await _held_batch(session, request, priced, now=now)
    session.add(order)
    await session.flush()
    await record_created(session, order, actor=request.actor, now=now)
    await move(
        session,
        order,
        [OrderStatus.CREATED],
        OrderStatus.AWAITING_PAYMENT,
        event="awaiting_payment",
        actor=request.actor,
        now=now,
    )
    started = await start_payment(
        session,
        purpose_kind=PURPOSE_KIND,
        purpose_id=order.id,
        merchant_id=order.merchant_id,
        amount_minor=order.amount_minor,
        currency=order.currency,
        method=request.method,
        channel=request.channel,
        payer_code=request.payer_code,
        payer_openid=request.payer_openid,
        expires_at=order.expires_at,
        now=now,
        settings=settings,
        description=f"通卡 {priced.product.name}"[:60],
    )
    written = {"payment_id": started.payment.id, "channel": started.payment.channel}
    await session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(**written)
        .execution_options(synchronize_session=False)
    )
    if started.payment.status != PaymentStatus.AWAITING:
        # settled at once (cash, a scanned code): the listener moved the order meanwhile
        return CreatedOrder(await get_order(session, order.id), started)
    mark_written(order, **written)
    return CreatedOrder(order, started)


def _batch_options(request: OrderRequest) -> dict[str, object]:
    if request.kind is not OrderKind.BATCH:
        return {}
    return {"reference": request.reference, "count": request.card_count}


async def _held_batch(
    session: AsyncSession, request: OrderRequest, priced: _Priced, *, now: datetime
) -> str:
    """An enterprise order's batch is created with the order — its numbers reserved, its
    export sealed under the buyer's password (which is not kept) — but held: the issue job
    skips it until the order is paid (``fulfilment.release_batch``)."""
    assert request.export_password is not None
    batch = await create_batch(
        session,
        priced.product.id,
        merchant_id=request.merchant_id,
        count=priced.count,
        face_value=priced.face_value,
        export_password=request.export_password,
        actor=request.actor,
        now=now,
        reference=request.reference,
    )
    batch.next_attempt_at = fulfilment.BATCH_HELD_UNTIL
    await session.flush()
    return batch.id


def orders_query(
    *, merchant_id: str | None, holder_id: str | None = None, store_id: str | None = None
) -> Select[tuple[Order]]:
    """Orders, scoped to a merchant (``None``: the platform) — and, for a store-bound
    caller, its store's (a till sees its own sales) — or to a holder."""
    statement = select(Order)
    if merchant_id is not None:
        statement = statement.where(Order.merchant_id == merchant_id)
    if store_id is not None:
        statement = statement.where(Order.store_id == store_id)
    if holder_id is not None:
        statement = statement.where(Order.holder_id == holder_id)
    return statement


async def get_order(
    session: AsyncSession,
    order_id: str,
    *,
    merchant_id: str | None = None,
    holder_id: str | None = None,
    store_id: str | None = None,
    lock: bool = False,
) -> Order:
    """An order, scoped like ``orders_query`` (anyone else's: not found)."""
    statement = orders_query(merchant_id=merchant_id, holder_id=holder_id, store_id=store_id)
    statement = statement.where(Order.id == order_id)
    statement = statement.execution_options(populate_existing=True)
    if lock:
        statement = statement.with_for_update()
    order = await session.scalar(statement)
    if order is None:
        raise OrderNotFound("No such order.", param="order_id", details={"object": "order"})
    return order


async def order_history(session: AsyncSession, order_id: str) -> Sequence[OrderHistory]:
    rows = await session.scalars(
        select(OrderHistory).where(OrderHistory.order_id == order_id).order_by(OrderHistory.id)
    )
    return rows.all()


async def cancel_order(
    session: AsyncSession,
    order: Order,
    *,
    actor: str,
    reason: str | None,
    now: datetime,
    settings: Settings,
    target: OrderStatus = OrderStatus.CANCELLED,
) -> Order:
    """Cancel (or, for the expiry job, expire) an unpaid order: its payment is closed at
    the channel first — a payment made meanwhile is found and fulfils the order, which is
    then no longer cancellable (``order_not_cancellable``; for the job: left as it is)."""
    fulfilment.register_order_listener(settings)
    if order.status not in UNPAID:
        raise OrderNotCancellable(
            f"The order is {order.status}; only an unpaid order is cancelled.",
            param="order_id",
            details={"status": order.status},
        )
    if order.payment_id is not None:
        await close_payment(session, order.payment_id, now=now, settings=settings)
    fresh = await get_order(session, order.id)
    event = "cancelled" if target is OrderStatus.CANCELLED else "expired"
    if await move(session, fresh, UNPAID, target, event=event, actor=actor, now=now, note=reason):
        await fulfilment.cancel_held_batch(
            session, fresh, actor=actor, now=now, reason=f"order {fresh.id} {target.value}"
        )
    else:
        fresh = await get_order(session, order.id)
        if target is OrderStatus.CANCELLED:
            raise OrderNotCancellable(
                f"The order is {fresh.status}: it was paid meanwhile; refund it instead.",
                param="order_id",
                details={"status": fresh.status},
            )
    return await get_order(session, order.id)
