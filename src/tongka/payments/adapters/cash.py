"""Cash at a merchant's till (现金): no channel. The payment succeeds as the cashier records it
(the merchant now owes the money: the payments service posts to its payable); nothing ever
notifies, there is nothing to query, and a refund is cash handed back at the till."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime

from tongka.payments.channel import (
    ChannelError,
    ChannelName,
    ChannelPayment,
    ChannelPaymentStatus,
    ChannelRefund,
    ChannelRefundStatus,
    ForgedNotification,
    FundingType,
    NotificationAck,
    PaymentInstructions,
    PaymentMethod,
    PaymentRequest,
    RefundRequest,
    StatementLine,
)


class Cash:
    name = ChannelName.CASH
    methods = frozenset({PaymentMethod.CASH})

    def __init__(self, *, now: object = None) -> None:
        self._now = now  # a Clock-like with .now(), or None for the system clock

    def _time(self) -> datetime:
        now = getattr(self._now, "now", None)
        return now() if callable(now) else datetime.now(UTC)

    async def create_payment(self, request: PaymentRequest) -> PaymentInstructions:
        if request.method != PaymentMethod.CASH:
            raise ChannelError(f"cash has no method {request.method}", is_retryable=False)
        result = ChannelPayment(
            channel=self.name,
            payment_id=request.payment_id,
            status=ChannelPaymentStatus.SUCCEEDED,
            amount_minor=request.amount_minor,
            currency=request.currency,
            channel_transaction_id=f"cash-{uuid.uuid5(uuid.NAMESPACE_URL, request.payment_id)}",
            paid_at=self._time(),
            funding_type=FundingType.CASH,
        )
        return PaymentInstructions(
            self.name, request.method, request.payment_id, immediate_result=result
        )

    async def query_payment(self, payment_id: str) -> ChannelPayment:
        raise ChannelError(
            "cash has no channel to query: the till's record is the truth", is_retryable=False
        )

    async def close_payment(self, payment_id: str) -> None:
        return None

    async def refund(self, request: RefundRequest) -> ChannelRefund:
        return ChannelRefund(
            self.name,
            request.refund_id,
            ChannelRefundStatus.SUCCEEDED,
            request.amount_minor,
            request.currency,
        )

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelPayment:
        raise ForgedNotification("cash never notifies")

    def notification_ack(self, *, accepted: bool) -> NotificationAck:
        return NotificationAck(400, b"", "text/plain")

    async def download_statement(self, statement_date: date) -> bytes:
        return b""

    def parse_statement(self, content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
        return iter(())
