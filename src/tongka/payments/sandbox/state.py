"""The sandbox gateway's memory: payments and refunds it has seen, per channel, and the fees
it charges (so statements carry exact fees). In memory only: a restart forgets, as a fresh
sandbox should."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from tongka.payments.channel import ChannelName, FundingType

CHINA = ZoneInfo("Asia/Shanghai")
FEE_RATES = {  # what each sandbox channel keeps, rounded half up to the fen
    ChannelName.WECHAT: Decimal("0.006"),
    ChannelName.ALIPAY: Decimal("0.006"),
    ChannelName.UNIONPAY: Decimal("0.005"),
    ChannelName.BANK_TRANSFER: Decimal("0"),
}


def fee_for(channel: ChannelName, amount_minor: int) -> int:
    return int((Decimal(amount_minor) * FEE_RATES[channel]).quantize(Decimal(1), ROUND_HALF_UP))


def refund_fee_for(channel: ChannelName, amount_minor: int, refund_minor: int) -> int:
    """The part of the payment's fee given back with a refund (proportional, half up)."""
    fee = Decimal(fee_for(channel, amount_minor)) * refund_minor / amount_minor
    return int(fee.quantize(Decimal(1), ROUND_HALF_UP))


@dataclass
class GatewayRefund:
    refund_id: str
    amount_minor: int
    refunded_at: datetime
    channel_refund_id: str
    fee_returned_minor: int


@dataclass
class GatewayPayment:
    channel: ChannelName
    payment_id: str
    amount_minor: int
    currency: str
    description: str
    notify_url: str
    method: str  # NATIVE / JSAPI / MICROPAY / QR / BANK
    created_at: datetime
    expires_at: datetime | None = None
    status: str = "PENDING"  # PENDING, SUCCEEDED, CLOSED, FAILED
    transaction_id: str = ""
    paid_at: datetime | None = None
    funding_type: FundingType = FundingType.UNKNOWN
    payer_account_name: str = ""
    payer_account_number: str = ""
    openid: str = ""
    refunds: list[GatewayRefund] = field(default_factory=list)

    @property
    def refunded_minor(self) -> int:
        return sum(refund.amount_minor for refund in self.refunds)


@dataclass
class GatewayState:
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    payments: dict[tuple[ChannelName, str], GatewayPayment] = field(default_factory=dict)

    def get(self, channel: ChannelName, payment_id: str) -> GatewayPayment | None:
        return self.payments.get((channel, payment_id))

    def add(self, payment: GatewayPayment) -> GatewayPayment:
        self.payments[(payment.channel, payment.payment_id)] = payment
        return payment

    def all(self, channel: ChannelName | None = None) -> list[GatewayPayment]:
        return [p for (c, _), p in self.payments.items() if channel is None or c == channel]

    def paid_on(self, channel: ChannelName, day: date) -> list[GatewayPayment]:
        return [
            p for p in self.all(channel) if p.paid_at and p.paid_at.astimezone(CHINA).date() == day
        ]

    def refunds_on(
        self, channel: ChannelName, day: date
    ) -> list[tuple[GatewayPayment, GatewayRefund]]:
        return [
            (p, r)
            for p in self.all(channel)
            for r in p.refunds
            if r.refunded_at.astimezone(CHINA).date() == day
        ]


def transaction_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12).upper()


def code_outcome(code: str) -> tuple[bool, FundingType]:
    """A scanned payment code: 16-24 digits; ending 0000 fails, ending 9999 pays by credit
    card, anything else from the balance."""
    if not code.isdigit() or not 16 <= len(code) <= 24:
        raise ValueError("not a payment code")
    if code.endswith("0000"):
        return False, FundingType.UNKNOWN
    if code.endswith("9999"):
        return True, FundingType.CREDIT_CARD
    return True, FundingType.BALANCE
