"""An order's receipts (电子回单): one when it is paid, one per refund (``sales.receipts``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.models import CardProduct
from tongka.cards.products import get_product
from tongka.config import Settings
from tongka.identity.service import get_merchant
from tongka.payments.views import PaymentView
from tongka.sales.models import Order, OrderRefund
from tongka.sales.order_states import OrderKind, mark_written
from tongka.sales.receipts import Receipt, ReceiptFacts, ReceiptKind, ReceiptLine, issue_receipt

BUYER_DISPLAY = {"unit": "单位", "person": "个人"}  # no real name given
RECEIPT_KINDS = {
    OrderKind.PURCHASE: ReceiptKind.PURCHASE,
    OrderKind.TILL_SALE: ReceiptKind.PURCHASE,
    OrderKind.TOP_UP: ReceiptKind.TOP_UP,
    OrderKind.BATCH: ReceiptKind.ENTERPRISE_BATCH,
}


async def order_receipt(
    session: AsyncSession,
    order: Order,
    payment: PaymentView,
    *,
    now: datetime,
    settings: Settings,
    refund: OrderRefund | None = None,
    product: CardProduct | None = None,
) -> Receipt:
    """The paid order's receipt (kept on the order), or the receipt of ``refund``.
    ``product``: the order's product, when the caller read it in this transaction."""
    if product is None or product.id != order.product_id:
        product = await get_product(session, order.product_id)
    merchant = await get_merchant(session, order.merchant_id)
    amount = refund.amount_minor if refund is not None else order.amount_minor
    receipt = await issue_receipt(
        session,
        ReceiptFacts(
            order_id=order.id,
            merchant_id=order.merchant_id,
            merchant_name=merchant.legal_name,
            buyer_display=order.buyer_name_masked or BUYER_DISPLAY[order.buyer_kind],
            kind=ReceiptKind.REFUND if refund is not None else RECEIPT_KINDS[OrderKind(order.kind)],
            lines=(
                ReceiptLine(
                    product_name=product.name,
                    face_value_minor=order.face_value_minor,
                    count=1 if refund is not None else order.card_count,
                    amount_minor=amount,
                ),
            ),
            amount_minor=amount,
            currency=order.currency,
            channel=payment.channel,
            paid_at=payment.paid_at or now,
            bonus_minor=0 if refund is not None else order.bonus_minor,
            channel_transaction_id=payment.channel_transaction_id,
            payer_account_masked=payment.payer_account_number,
            refund_id=refund.id if refund is not None else None,
        ),
        now=now,
        settings=settings,
    )
    if refund is None:
        await session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(receipt_id=receipt.id)
            .execution_options(synchronize_session=False)
        )
        mark_written(order, receipt_id=receipt.id)
    return receipt
