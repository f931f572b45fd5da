"""Demo data for sales: paid orders on every channel, made the way real ones are.

The demo card holder buys a canteen e-card with WeChat Pay and a bookshop e-card with
Alipay, tops them up with UnionPay and by bank transfer, and the canteen's till tops up the
canteen e-card for cash (the e-cards are products of this step's own, so the cards demo's
cards and their figures stay as they were). Each goes through ``sales.orders.create_order``;
the payer confirms at the sandbox gateway — run in-process here (its app on an
``httpx.ASGITransport``, its clock the demo's) — whose signed notifications go through
``payments.accept_notification`` exactly as the notify route would take them: the ledger
postings, the card's activation or top-up and the receipt are the real ones.

Idempotent: each demo order is known by its buyer key (``demo:sales:<name>``); one that
exists is not made again. Not in production (there is no sandbox there).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from tongka.cards.demo import FALLBACK_MERCHANTS, DemoProduct, _product
from tongka.cards.models import CardProduct
from tongka.demo import DemoContext
from tongka.payments import registry
from tongka.payments.adapters import build_channels
from tongka.payments.adapters.cash import Cash
from tongka.payments.channel import ChannelName, FundingType, PaymentMethod
from tongka.payments.sandbox.app import create_gateway
from tongka.payments.service import accept_notification
from tongka.sales.models import Order
from tongka.sales.order_states import OrderKind
from tongka.sales.orders import OrderRequest, create_order, get_order
from tongka.sales.receipt_models import Receipt

BUYER_PREFIX = "demo:sales:"
SANDBOX_NOTIFY_BASE = "http://tongka.demo"


# The demo's e-cards (products of their own, so the cards demo's cards keep their values).
E_CARDS = [
    DemoProduct("62880104", "示范餐饮电子卡 Canteen e-card", 0, []),
    DemoProduct("62880205", "示范书店电子卡 Bookshop e-card", 1, []),
]


@dataclass(frozen=True)
class DemoOrder:
    name: str
    kind: OrderKind
    channel: ChannelName
    method: PaymentMethod
    amount: int
    bin_prefix: str  # the e-card product bought, or of the card topped up
    card_of: str | None = None  # a top-up: of the card the demo order of that name bought
    by_till: bool = False  # the product's merchant sells at its till (else the holder buys)


PURCHASE, TOP_UP, QR = OrderKind.PURCHASE, OrderKind.TOP_UP, PaymentMethod.NATIVE_QR
DEMO_ORDERS = [
    DemoOrder("wechat", PURCHASE, ChannelName.WECHAT, QR, 10_000, "62880104"),
    DemoOrder("alipay", PURCHASE, ChannelName.ALIPAY, QR, 10_000, "62880205"),
    DemoOrder("unionpay", TOP_UP, ChannelName.UNIONPAY, QR, 5_000, "62880104", "wechat"),
    DemoOrder(
        "bank_transfer",
        TOP_UP,
        ChannelName.BANK_TRANSFER,
        PaymentMethod.BANK_TRANSFER,
        30_000,
        "62880205",
        "alipay",
    ),
    DemoOrder(
        "cash", TOP_UP, ChannelName.CASH, PaymentMethod.CASH, 10_000, "62880104", "wechat", True
    ),
]


class _Inbox:
    """Where the in-process gateway delivers its notifications: kept for the service."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        self.received.append((request.url.path, dict(request.headers), await request.body()))
        await Response(status_code=200, content="success")(scope, receive, send)


@dataclass
class _Sandbox:
    http: httpx.AsyncClient
    inbox: _Inbox


@asynccontextmanager
async def _sandbox(context: DemoContext, now: datetime) -> AsyncIterator[_Sandbox]:
    """The sandbox gateway in-process, its adapters the registry's channels meanwhile."""
    settings = context.settings
    inbox = _Inbox()
    notify = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=inbox), base_url=SANDBOX_NOTIFY_BASE
    )
    app = create_gateway(settings, notify_http=notify, now=lambda: now)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=settings.sandbox_gateway_url
    )
    channels = {**build_channels(settings, http=http), ChannelName.CASH: Cash()}
    try:
        with registry.override_channels(channels):
            yield _Sandbox(http, inbox)
    finally:
        await app.state.gateway.drain()
        await http.aclose()
        await notify.aclose()


def _request(
    demo: DemoOrder, product: CardProduct, holder_id: str, card_ids: dict[str, str | None]
) -> OrderRequest:
    is_purchase = demo.kind is OrderKind.PURCHASE
    return OrderRequest(
        kind=demo.kind,
        method=demo.method,
        channel=demo.channel.value,
        actor="demo",
        buyer_key=f"{BUYER_PREFIX}{demo.name}",
        merchant_id=product.merchant_id if demo.by_till else None,
        product_id=product.id if is_purchase else None,
        face_value_minor=demo.amount if is_purchase else None,
        card_id=card_ids.get(demo.card_of) if demo.card_of else None,
        amount_minor=None if is_purchase else demo.amount,
        holder_id=None if demo.by_till else holder_id,
    )


async def _pay(
    session: AsyncSession, context: DemoContext, sandbox: _Sandbox, order: Order, now: datetime
) -> None:
    """The payer confirms at the gateway; its notifications reach the payments service."""
    if order.payment_id is None or order.channel == ChannelName.CASH:
        return  # cash is paid at the till as the order is made
    answer = await sandbox.http.post(
        f"/sandbox/payments/{order.channel}/{order.payment_id}/pay",
        json={
            "action": "confirm",
            "funding_type": FundingType.BANK_ACCOUNT
            if order.channel == ChannelName.BANK_TRANSFER
            else FundingType.BALANCE,
            "faults": [],
            "other_payment_id": None,
            "delay_seconds": 0.0,
        },
    )
    answer.raise_for_status()
    messages, sandbox.inbox.received = sandbox.inbox.received, []
    for path, headers, body in messages:
        channel = ChannelName(path.rstrip("/").split("/")[-2])
        await accept_notification(
            session, channel, headers, body, now=now, settings=context.settings
        )


async def _shown(session: AsyncSession) -> list[dict[str, object]]:
    """The demo orders as ``demo.json`` lists them (read back: the same on every run)."""
    statement = (
        select(Order, Receipt.code)
        .outerjoin(Receipt, Receipt.id == Order.receipt_id)
        .where(Order.buyer_key.startswith(BUYER_PREFIX))
        .order_by(Order.created_at, Order.id)
    )
    return [
        {
            "order_id": order.id,
            "name": order.buyer_key.removeprefix(BUYER_PREFIX),
            "kind": order.kind,
            "channel": order.channel,
            "status": order.status,
            "amount": {"amount": order.amount_minor, "currency": order.currency},
            "card_id": order.card_id,
            "receipt": f"/console/receipts/{code}" if code else None,
        }
        for order, code in (await session.execute(statement)).all()
    ]


async def _made(session: AsyncSession) -> dict[str, str | None]:
    """The demo orders made already: name -> the card each is of."""
    rows = await session.execute(
        select(Order.buyer_key, Order.card_id).where(Order.buyer_key.startswith(BUYER_PREFIX))
    )
    return {key.removeprefix(BUYER_PREFIX): card_id for key, card_id in rows.all()}


async def seed(session: AsyncSession, context: DemoContext, now: datetime) -> None:
    merchant_ids = context.objects.get("merchant_ids") or FALLBACK_MERCHANTS
    holder_id = context.credentials.get("consumer", {}).get("id")
    if context.settings.environment == "production" or holder_id is None:
        return
    products = {
        demo.bin_prefix: await _product(session, merchant_ids[demo.merchant], demo, now)
        for demo in E_CARDS
    }
    made = await _made(session)
    wanted = [demo for demo in DEMO_ORDERS if demo.name not in made]
    if wanted:
        async with _sandbox(context, now) as sandbox:
            for demo in wanted:
                request = _request(demo, products[demo.bin_prefix], holder_id, made)
                created = await create_order(session, request, now=now, settings=context.settings)
                await _pay(session, context, sandbox, created.order, now)
                made[demo.name] = (await get_order(session, created.order.id)).card_id
    context.credentials["orders"] = await _shown(session)
