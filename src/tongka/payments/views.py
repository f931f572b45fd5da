"""What payments hands to other parts: plain, immutable views of its rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tongka.clock import ensure_utc
from tongka.payments.channel import PaymentInstructions
from tongka.payments.models import Payment, PaymentRefund


@dataclass(frozen=True)
class PaymentView:
    """A payment as listeners, the API and the console see it (accounts only masked)."""

    id: str
    purpose_kind: str
    purpose_id: str
    merchant_id: str | None
    channel: str
    method: str
    amount_minor: int
    currency: str
    status: str
    refunded_minor: int
    fee_minor: int
    channel_transaction_id: str | None
    funding_type: str | None
    payer_account_name: str | None  # masked
    payer_account_number: str | None  # masked
    payee_account_name: str | None  # masked
    payee_account_number: str | None  # masked
    route_reason: str
    instructions: dict[str, Any]
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def refundable_minor(self) -> int:
        return self.amount_minor - self.refunded_minor


def view_of(payment: Payment) -> PaymentView:
    return PaymentView(
        id=payment.id,
        purpose_kind=payment.purpose_kind,
        purpose_id=payment.purpose_id,
        merchant_id=payment.merchant_id,
        channel=payment.channel,
        method=payment.method,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        status=payment.status,
        refunded_minor=payment.refunded_minor,
        fee_minor=payment.fee_minor,
        channel_transaction_id=payment.channel_transaction_id,
        funding_type=payment.funding_type,
        payer_account_name=payment.payer_account_name_masked,
        payer_account_number=payment.payer_account_number_masked,
        payee_account_name=payment.payee_account_name_masked,
        payee_account_number=payment.payee_account_number_masked,
        route_reason=payment.route_reason,
        instructions=dict(payment.instructions or {}),
        expires_at=ensure_utc(payment.expires_at),
        paid_at=ensure_utc(payment.paid_at) if payment.paid_at else None,
        created_at=ensure_utc(payment.created_at),
        updated_at=ensure_utc(payment.updated_at),
    )


@dataclass(frozen=True)
class StartedPayment:
    """``start_payment``'s answer: the row's view and what the payer's client needs."""

    payment: PaymentView
    instructions: PaymentInstructions


@dataclass(frozen=True)
class RefundView:
    id: str
    payment_id: str
    amount_minor: int
    currency: str
    status: str
    reason: str
    is_automatic: bool
    channel_refund_id: str | None
    created_at: datetime


def refund_view_of(refund: PaymentRefund) -> RefundView:
    return RefundView(
        id=refund.id,
        payment_id=refund.payment_id,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        status=refund.status,
        reason=refund.reason,
        is_automatic=refund.is_automatic,
        channel_refund_id=refund.channel_refund_id,
        created_at=ensure_utc(refund.created_at),
    )


def instructions_record(instructions: PaymentInstructions) -> dict[str, Any]:
    """The JSON kept on the payment (no secret in it: a QR code's content, a reference)."""
    record: dict[str, Any] = {
        "code_url": instructions.code_url,
        "jsapi_parameters": dict(instructions.jsapi_parameters)
        if instructions.jsapi_parameters
        else None,
        "bank_reference": instructions.bank_reference,
        "bank_account_name": instructions.bank_account_name,
        "bank_account_number": instructions.bank_account_number,
        "bank_name": instructions.bank_name,
    }
    return {key: value for key, value in record.items() if value is not None}
