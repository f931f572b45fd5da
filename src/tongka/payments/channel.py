"""The one interface every payment channel implements (WeChat Pay, Alipay, UnionPay, bank
transfer, cash at the till).

The rest of Tongka never speaks a channel's protocol: `sales/` asks `payments/` for a
payment, `payments/` picks a channel (routing) and calls its adapter through this
interface. An adapter turns our request into the channel's signed message, and the
channel's signed answers and notifications back into these value types; it never touches
the database or the ledger (the payments service does).

Amounts are integer minor units with their currency, as everywhere; an adapter converts to
the channel's own form (WeChat: fen as an integer; Alipay and UnionPay: yuan as a decimal
string) and back, exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from tongka.errors import AuthenticationFailed, ServiceUnavailable


class ChannelName(enum.StrEnum):
    WECHAT = "wechat"  # 微信支付 API v3
    ALIPAY = "alipay"  # 支付宝 open API (RSA2)
    UNIONPAY = "unionpay"  # 银联 (RSA-SHA256 signed messages)
    BANK_TRANSFER = "bank_transfer"  # 对公转账: matched by a unique reference
    CASH = "cash"  # 现金 at a merchant's till: no channel, the merchant owes it


class PaymentMethod(enum.StrEnum):
    NATIVE_QR = "native_qr"  # WeChat Native / Alipay precreate: the payer scans our QR code
    JSAPI = "jsapi"  # WeChat JSAPI: the payer's WeChat client pays with parameters we sign
    PAYMENT_CODE = "payment_code"  # 付款码: the till scans the payer's code (micropay)
    BANK_TRANSFER = "bank_transfer"  # instructions with a unique reference
    CASH = "cash"


class FundingType(enum.StrEnum):
    """How the payer funded the payment, as the channel reports it. The regulation forbids
    buying or loading a prepaid card with a credit card."""

    BALANCE = "balance"  # 零钱 / 余额
    DEBIT_CARD = "debit_card"
    CREDIT_CARD = "credit_card"
    BANK_ACCOUNT = "bank_account"  # a bank transfer from an account
    CASH = "cash"
    UNKNOWN = "unknown"


class ChannelPaymentStatus(enum.StrEnum):
    PENDING = "pending"  # created, not paid yet
    SUCCEEDED = "succeeded"
    CLOSED = "closed"  # closed or cancelled before payment
    FAILED = "failed"
    REFUNDED = "refunded"  # (part) refunded after success


class ChannelRefundStatus(enum.StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class StatementLineKind(enum.StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True)
class PaymentRequest:
    """What we ask a channel for. ``payment_id`` is ours (WeChat ``out_trade_no``, Alipay
    ``out_trade_no``, UnionPay ``orderId``, the bank reference) and unique."""

    payment_id: str
    amount_minor: int
    currency: str
    description: str
    method: PaymentMethod
    expires_at: datetime
    notify_url: str
    payer_code: str | None = None  # PAYMENT_CODE: the code the till scanned
    payer_openid: str | None = None  # JSAPI: the payer's openid


@dataclass(frozen=True)
class PaymentInstructions:
    """What the payer's client needs to pay, as the channel answered."""

    channel: ChannelName
    method: PaymentMethod
    payment_id: str
    code_url: str | None = None  # NATIVE_QR: the content of the QR code to show
    jsapi_parameters: Mapping[str, str] | None = None  # JSAPI: signed parameters
    bank_reference: str | None = None  # BANK_TRANSFER: the reference the payer must quote
    bank_account_name: str | None = None  # BANK_TRANSFER: where to pay
    bank_account_number: str | None = None
    bank_name: str | None = None
    # PAYMENT_CODE: a micropay may succeed at once; then the result is here
    immediate_result: ChannelPayment | None = None


@dataclass(frozen=True)
class ChannelPayment:
    """A payment as the channel sees it: a query's answer or a verified notification."""

    channel: ChannelName
    payment_id: str
    status: ChannelPaymentStatus
    amount_minor: int
    currency: str
    channel_transaction_id: str | None = None
    paid_at: datetime | None = None
    funding_type: FundingType = FundingType.UNKNOWN
    payer_account_name: str | None = None  # recorded (encrypted), shown masked
    payer_account_number: str | None = None
    payee_account_name: str | None = None
    payee_account_number: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)  # the parsed message, for the record


@dataclass(frozen=True)
class RefundRequest:
    """原路退回: a refund back through the channel the payment came from."""

    refund_id: str  # ours, unique (WeChat out_refund_no, Alipay out_request_no)
    payment_id: str
    channel_transaction_id: str | None
    amount_minor: int
    total_minor: int  # the original payment's amount (WeChat needs it)
    currency: str
    reason: str
    notify_url: str | None = None


@dataclass(frozen=True)
class ChannelRefund:
    channel: ChannelName
    refund_id: str
    status: ChannelRefundStatus
    amount_minor: int
    currency: str
    channel_refund_id: str | None = None


@dataclass(frozen=True)
class StatementLine:
    """One line of a channel's daily statement (对账单), in our terms."""

    channel: ChannelName
    trade_date: date
    kind: StatementLineKind
    payment_id: str  # our id (out_trade_no / orderId / bank reference)
    channel_transaction_id: str | None
    amount_minor: int  # always positive; ``kind`` says which way
    fee_minor: int  # what the channel kept (positive), or gave back on a refund (negative)
    currency: str
    occurred_at: datetime
    refund_id: str | None = None


@dataclass(frozen=True)
class NotificationAck:
    """What the channel expects back once we accepted (or refused) a notification."""

    status_code: int
    body: bytes
    media_type: str


class ChannelError(ServiceUnavailable):
    """The channel refused or failed a call (an error answer, a timeout, a bad signature
    on its answer). ``is_retryable`` says whether the same call may succeed later; the
    router counts these for the channel's circuit breaker."""

    code = "channel_error"

    def __init__(self, message: str, *, is_retryable: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.is_retryable = is_retryable


class ForgedNotification(AuthenticationFailed):
    """A notification whose signature does not verify (or cannot be decrypted): dropped,
    changes nothing."""

    code = "notification_signature_invalid"


@runtime_checkable
class PaymentChannel(Protocol):
    """One payment channel. Network calls are async (httpx); parsing is pure."""

    name: ChannelName
    methods: frozenset[PaymentMethod]

    async def create_payment(self, request: PaymentRequest) -> PaymentInstructions: ...

    async def query_payment(self, payment_id: str) -> ChannelPayment: ...

    async def close_payment(self, payment_id: str) -> None: ...

    async def refund(self, request: RefundRequest) -> ChannelRefund: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelPayment:
        """Verify the signature (and decrypt) and parse; raises ``ForgedNotification``.
        Matching it against our payment (amount, currency, order) is the service's job."""
        ...

    def notification_ack(self, *, accepted: bool) -> NotificationAck: ...

    async def download_statement(self, statement_date: date) -> bytes: ...

    def parse_statement(self, content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
        """Stream the statement's lines (a file may be large: never read it whole)."""
        ...
