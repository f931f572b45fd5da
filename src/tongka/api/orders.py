"""``/v1/orders``: buy or top up a card, sell one at the till, buy a batch; cancel; refund.

* ``POST /v1/orders`` (``Idempotency-Key``: a replay answers the first order) — a holder
  buys a card of a product (``purchase``) or tops up one of theirs (``top_up``); a merchant
  sells an issued card at its till (``till_sale``: cash or a scanned payment code), tops up
  a card, or orders an enterprise ``batch`` (a manager: ``batch.create`` too). The answer
  carries what the payer's client needs (``payment.instructions``).
* ``GET /v1/orders`` (newest first, the project's cursor pages) and
  ``GET /v1/orders/{order_id}`` (with its ``history``) — in the caller's scope.
* ``POST /v1/orders/{order_id}/cancel`` — an unpaid order.
* ``POST /v1/orders/{order_id}/refunds`` — full (no ``amount``) or partial, back through
  the channel; the refund's id is derived from the ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StrictInt

from tongka.api.cards.common import AmountIn
from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import HEADER, IdempotentRoute
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.no_store import SecretField
from tongka.edge.pagination import ListResponse, PageParamsDep, fetch_page
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, ObjectId, RequestModel
from tongka.errors import InvalidRequest
from tongka.identity.principal import Principal, PrincipalKind
from tongka.money import MoneyModel
from tongka.payments.channel import ChannelName, PaymentMethod
from tongka.payments.service import get_payment
from tongka.payments.views import instructions_record
from tongka.policy import Action, authorize, scope_of
from tongka.sales.models import Order, OrderHistory, OrderRefund
from tongka.sales.order_refunds import refund_order
from tongka.sales.order_states import OrderKind, OrderStatus
from tongka.sales.orders import (
    OrderRequest,
    cancel_order,
    create_order,
    get_order,
    order_history,
    orders_query,
)
from tongka.sales.purchase_rules import BuyerKind

router = APIRouter(responses=ERROR_RESPONSES, tags=["orders"], route_class=IdempotentRoute)

HOLDER_KINDS = {OrderKind.PURCHASE, OrderKind.TOP_UP}
MERCHANT_KINDS = {OrderKind.TILL_SALE, OrderKind.TOP_UP, OrderKind.BATCH}


def _money(amount: int, currency: str) -> MoneyModel:
    return MoneyModel(amount=amount, currency=currency)


class BuyerIn(RequestModel):
    kind: BuyerKind = BuyerKind.PERSON
    name: str | None = Field(
        default=None, max_length=100, description="The buyer's real name (recorded masked)."
    )
    reference: str | None = Field(
        default=None,
        max_length=80,
        description="Who buys, for a till (a member number...): purchases by one buyer on "
        "one day are looked at together (化整为零).",
    )


class OrderIn(RequestModel):
    kind: OrderKind = Field(examples=["purchase"])
    method: PaymentMethod = Field(examples=["native_qr"])
    channel: ChannelName | None = Field(default=None, description="None: routing picks it.")
    product_id: str | None = Field(default=None, pattern=ID_PATTERN)
    face_value: AmountIn | None = Field(default=None, description="purchase, batch")
    card_id: str | None = Field(default=None, pattern=ID_PATTERN, description="top_up, till_sale")
    amount: AmountIn | None = Field(default=None, description="top_up")
    count: StrictInt = Field(default=1, ge=1, le=100_000, description="batch: how many cards")
    buyer: BuyerIn = Field(default_factory=BuyerIn)
    holder_id: str | None = Field(default=None, pattern=ID_PATTERN)
    payer_code: str | None = SecretField(
        default=None, max_length=32, description="payment_code: the code the till scanned."
    )
    payer_openid: str | None = Field(default=None, max_length=128)
    export_password: str | None = SecretField(
        default=None, max_length=200, description="batch: the password of its export."
    )
    reference: str | None = Field(default=None, max_length=100)


class BuyerOut(BaseModel):
    kind: str
    name: str | None = Field(description="Masked.")
    is_real_name_given: bool


class PaymentBrief(BaseModel):
    id: str
    channel: str
    status: str
    instructions: dict[str, Any] = Field(description="What the payer's client needs.")


class AccountOut(BaseModel):
    account_name: str | None = Field(description="Masked.")
    account_number: str | None = Field(description="Masked.")


class HistoryOut(BaseModel):
    event: str
    from_status: str | None
    to_status: str
    actor: str
    note: str | None
    created_at: datetime


class OrderOut(BaseModel):
    object: Literal["order"] = "order"
    id: str
    kind: str
    status: str
    merchant_id: str
    product_id: str
    card_id: str | None
    batch_id: str | None
    face_value: MoneyModel
    count: int
    amount: MoneyModel
    bonus: MoneyModel
    refunded: MoneyModel
    buyer: BuyerOut
    holder_id: str | None
    method: str
    channel: str | None
    payment_id: str | None
    receipt_id: str | None
    expires_at: datetime
    paid_at: datetime | None
    fulfilled_at: datetime | None
    created_at: datetime
    payment: PaymentBrief | None = None
    payer: AccountOut | None = Field(default=None, description="Who paid (masked): detail only.")
    funding_type: str | None = Field(default=None, description="As the channel reported it.")
    history: list[HistoryOut] | None = None

    @classmethod
    def of(cls, order: Order, history: list[OrderHistory] | None = None) -> OrderOut:
        c = order.currency
        return cls(
            id=order.id,
            kind=order.kind,
            status=order.status,
            merchant_id=order.merchant_id,
            product_id=order.product_id,
            card_id=order.card_id,
            batch_id=order.batch_id,
            face_value=_money(order.face_value_minor, c),
            count=order.card_count,
            amount=_money(order.amount_minor, c),
            bonus=_money(order.bonus_minor, c),
            refunded=_money(order.refunded_minor, c),
            buyer=BuyerOut(
                kind=order.buyer_kind,
                name=order.buyer_name_masked,
                is_real_name_given=order.is_real_name_given,
            ),
            holder_id=order.holder_id,
            method=order.method,
            channel=order.channel,
            payment_id=order.payment_id,
            receipt_id=order.receipt_id,
            expires_at=order.expires_at,
            paid_at=order.paid_at,
            fulfilled_at=order.fulfilled_at,
            created_at=order.created_at,
            history=None
            if history is None
            else [
                HistoryOut(
                    event=row.event_type,
                    from_status=row.from_status,
                    to_status=row.to_status,
                    actor=row.actor,
                    note=row.note,
                    created_at=row.created_at,
                )
                for row in history
            ],
        )


def _kind_allowed(principal: Principal, kind: OrderKind) -> None:
    allowed = HOLDER_KINDS if principal.kind is PrincipalKind.CONSUMER else MERCHANT_KINDS
    if kind not in allowed:
        raise InvalidRequest(
            f"A {principal.kind.value} caller cannot place a {kind.value} order.",
            code="order_invalid",
            param="kind",
            details={"problem": "kind"},
        )
    if kind is OrderKind.BATCH:
        authorize(principal, Action.BATCH_CREATE)  # a manager's order


def _buyer_key(principal: Principal, body: OrderIn) -> str:
    if principal.kind is PrincipalKind.CONSUMER:
        return f"consumer:{principal.consumer_id}"
    if body.buyer.kind is BuyerKind.UNIT and body.buyer.name:
        return f"unit:{body.buyer.name.strip()}"
    if body.buyer.reference:
        return f"buyer:{principal.merchant_id}:{body.buyer.reference.strip()}"
    return f"till:{principal.merchant_id}:{principal.store_id or '-'}"


def _request_of(principal: Principal, body: OrderIn) -> OrderRequest:
    _kind_allowed(principal, body.kind)
    is_holder = principal.kind is PrincipalKind.CONSUMER
    money = body.face_value or body.amount
    return OrderRequest(
        kind=body.kind,
        method=body.method,
        actor=principal.actor,
        buyer_key=_buyer_key(principal, body),
        merchant_id=None if is_holder else principal.merchant_id,
        store_id=None if is_holder else principal.store_id,
        channel=body.channel.value if body.channel else None,
        product_id=body.product_id,
        face_value_minor=body.face_value.amount if body.face_value else None,
        card_id=body.card_id,
        amount_minor=body.amount.amount if body.amount else None,
        currency=money.currency if money else None,
        card_count=body.count,
        holder_id=principal.consumer_id if is_holder else body.holder_id,
        buyer_kind=body.buyer.kind,
        buyer_name=body.buyer.name,
        payer_code=body.payer_code,
        payer_openid=body.payer_openid,
        export_password=body.export_password,
        reference=body.reference,
    )


@router.post("/v1/orders", status_code=201, summary="Order a card, a top-up or a batch")
async def create(
    body: OrderIn,
    principal: Annotated[Principal, Authorized(Action.ORDER_CREATE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> OrderOut:
    created = await create_order(
        session, _request_of(principal, body), now=clock.now(), settings=settings
    )
    out = OrderOut.of(created.order)
    view = created.payment.payment
    out.payment = PaymentBrief(
        id=view.id,
        channel=view.channel,
        status=view.status,
        instructions=instructions_record(created.payment.instructions),
    )
    return out


async def _scoped(session: SessionDep, principal: Principal, order_id: str) -> Order:
    scope = scope_of(principal)
    return await get_order(
        session,
        order_id,
        merchant_id=scope.merchant_id,
        holder_id=scope.holder_id,
        store_id=scope.store_id,
    )


@router.get("/v1/orders", summary="Orders, newest first")
async def list_orders(
    principal: Annotated[Principal, Authorized(Action.ORDER_READ)],
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[OrderStatus | None, Query()] = None,
    kind: Annotated[OrderKind | None, Query()] = None,
) -> ListResponse[OrderOut]:
    scope = scope_of(principal)
    statement = orders_query(
        merchant_id=scope.merchant_id, holder_id=scope.holder_id, store_id=scope.store_id
    )
    if status is not None:
        statement = statement.where(Order.status == status.value)
    if kind is not None:
        statement = statement.where(Order.kind == kind.value)
    return await fetch_page(session, statement, page, Order, OrderOut.of)


@router.get("/v1/orders/{order_id}", summary="One order, with its history")
async def get_one(
    order_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.ORDER_READ)],
    session: SessionDep,
) -> OrderOut:
    order = await _scoped(session, principal, order_id)
    out = OrderOut.of(order, list(await order_history(session, order.id)))
    if order.payment_id is not None:
        payment = await get_payment(session, order.payment_id)
        out.payer = AccountOut(
            account_name=payment.payer_account_name, account_number=payment.payer_account_number
        )
        out.funding_type = payment.funding_type
    return out


class CancelIn(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


@router.post("/v1/orders/{order_id}/cancel", summary="Cancel an unpaid order")
async def cancel(
    order_id: ObjectId,
    body: CancelIn,
    principal: Annotated[Principal, Authorized(Action.ORDER_CANCEL)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> OrderOut:
    order = await _scoped(session, principal, order_id)
    done = await cancel_order(
        session,
        order,
        actor=principal.actor,
        reason=body.reason,
        now=clock.now(),
        settings=settings,
    )
    return OrderOut.of(done, list(await order_history(session, done.id)))


class OrderRefundIn(RequestModel):
    amount: AmountIn | None = Field(
        default=None, description="Omitted: all that may be refunded (the paid, unspent value)."
    )
    reason: str | None = Field(default=None, max_length=500)
    card_ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] | None = Field(
        default=None,
        max_length=10_000,
        description="An enterprise batch order: the cards to refund and close (omitted: "
        "every card still holding paid value). Each refunds its paid, unspent value up to "
        "its face value; not with `amount`.",
    )


class RefundedCardOut(BaseModel):
    card_id: str
    amount: MoneyModel


class OrderRefundOut(BaseModel):
    object: Literal["order_refund"] = "order_refund"
    id: str
    order_id: str
    payment_id: str
    amount: MoneyModel
    reason: str
    created_at: datetime
    cards: list[RefundedCardOut] = Field(
        description="A batch order's refund: the cards refunded (and closed)."
    )
    order: OrderOut

    @classmethod
    def of(cls, refund: OrderRefund, order: Order) -> OrderRefundOut:
        return cls(
            id=refund.id,
            order_id=refund.order_id,
            payment_id=refund.payment_id,
            amount=_money(refund.amount_minor, refund.currency),
            reason=refund.reason,
            cards=[
                RefundedCardOut(
                    card_id=str(row["card_id"]),
                    amount=_money(int(row["amount_minor"]), refund.currency),
                )
                for row in refund.cards or []
            ],
            created_at=refund.created_at,
            order=OrderOut.of(order),
        )


def refund_id_of(principal: Principal, key: str) -> str:
    """A refund id the channels take (≤ 64 letters and digits), stable per caller and key."""
    return "orf_" + hashlib.sha256(f"{principal.actor}\n{key}".encode()).hexdigest()[:40]


@router.post("/v1/orders/{order_id}/refunds", status_code=201, summary="Refund (原路退回)")
async def refund(
    order_id: ObjectId,
    body: OrderRefundIn,
    request: Request,
    principal: Annotated[Principal, Authorized(Action.ORDER_REFUND)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> OrderRefundOut:
    order = await _scoped(session, principal, order_id)
    if body.amount is not None and body.amount.currency != order.currency:
        raise InvalidRequest(
            f"The order is in {order.currency}, not {body.amount.currency}.",
            code="order_invalid",
            param="amount.currency",
            details={
                "problem": "currency",
                "currency": body.amount.currency,
                "product_currency": order.currency,
            },
        )
    done = await refund_order(
        session,
        order.id,
        refund_id=refund_id_of(principal, request.headers.get(HEADER, "")),
        amount_minor=body.amount.amount if body.amount else None,
        card_ids=body.card_ids,
        reason=body.reason,
        actor=principal.actor,
        now=clock.now(),
        settings=settings,
    )
    return OrderRefundOut.of(done, await get_order(session, order.id))
