"""Payments' tables: payments, their refunds, the platform's channel configuration, each
channel's circuit-breaker state, and the fee income moved out of the reserve.

A payment's status only moves forward through conditional ``UPDATE``s (``awaiting →
succeeded`` happens once however many notifications race), never by read-decide-write.
Payer and payee accounts are sealed in one envelope bound to the payment's id
(``parties_encrypted``); only their masked forms are stored in clear.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class PaymentStatus(enum.StrEnum):
    CREATED = "created"  # our row exists, the channel not asked yet (same transaction)
    AWAITING = "awaiting"  # the channel knows it; the payer has not paid yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"  # closed (expired, cancelled) before it was paid
    REFUNDED = "refunded"  # refunded in full
    PARTLY_REFUNDED = "partly_refunded"


# From these a verified "paid" from the channel still takes effect (a payer who paid just as
# we closed the payment: the purpose's listener decides to refund).
PAYABLE_STATUSES = (
    PaymentStatus.CREATED,
    PaymentStatus.AWAITING,
    PaymentStatus.CLOSED,
    PaymentStatus.FAILED,
)
PAID_STATUSES = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTLY_REFUNDED,
    PaymentStatus.REFUNDED,
)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_purpose", "purpose_kind", "purpose_id"),
        Index("ix_payments_merchant_created", "merchant_id", "created_at"),
        Index("ix_payments_status_expires", "status", "expires_at"),
        Index("ix_payments_channel_paid", "channel", "paid_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose_kind: Mapped[str] = mapped_column(String(20))
    purpose_id: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    channel: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # expected channel fee
    channel_transaction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    funding_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    payer_account_name_masked: Mapped[str | None] = mapped_column(String(80), nullable=True)
    payer_account_number_masked: Mapped[str | None] = mapped_column(String(40), nullable=True)
    payee_account_name_masked: Mapped[str | None] = mapped_column(String(80), nullable=True)
    payee_account_number_masked: Mapped[str | None] = mapped_column(String(40), nullable=True)
    parties_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    route_reason: Mapped[str] = mapped_column(String(500))
    instructions: Mapped[dict[str, Any]] = mapped_column(JSON)  # what the payer's client needs
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RefundStatus(enum.StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PaymentRefund(Base):
    """原路退回. ``id`` is the caller's ``refund_id`` (the channel's out_refund_no): a replay
    with the same id answers this row."""

    __tablename__ = "payment_refunds"
    __table_args__ = (Index("ix_payment_refunds_payment", "payment_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200))
    is_automatic: Mapped[bool] = mapped_column(Boolean)
    channel_refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelConfig(Base):
    """The platform's configuration of one channel in one currency. A channel without a
    row uses ``routing.DEFAULT_CONFIGS``. ``fee_rate`` is a ``Decimal`` kept as its exact
    text (SQLite has no exact decimal type)."""

    __tablename__ = "payment_channel_configs"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    is_enabled: Mapped[bool] = mapped_column(Boolean)
    fee_rate: Mapped[str] = mapped_column(String(20))
    fee_fixed_minor: Mapped[int] = mapped_column(BigInteger)
    min_amount_minor: Mapped[int] = mapped_column(BigInteger)
    max_amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    preference: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CircuitState(enum.StrEnum):
    CLOSED = "closed"  # calls flow
    OPEN = "open"  # skipped until ``opened_until``
    HALF_OPEN = "half_open"  # one probe is under way; its outcome closes or reopens


class ChannelHealth(Base):
    """One channel's circuit breaker and its latest health check. Written only when
    something changes (an error, a recovery, a check), never on every good call: a hot
    row would serialize every payment of the channel."""

    __tablename__ = "payment_channel_health"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    state: Mapped[str] = mapped_column(String(12))
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    opened_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    probe_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReserveTransfer(Base):
    """Money moved between the reserve bank account and the operating bank account (三分离):
    the platform's own money out (``to_operating``), or the platform's money in to cover a
    shortfall such as channel fees (``to_reserve``). ``id`` is the caller's idempotency key."""

    __tablename__ = "payment_reserve_transfers"
    __table_args__ = (Index("ix_payment_reserve_transfers_created", "currency", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    direction: Mapped[str] = mapped_column(String(20), server_default="to_operating")
    memo: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReserveTotal(Base):
    """The platform's money moved out of the reserve so far, net of what it put in, per
    currency: the row concurrent transfers queue on, so together they never take out more
    than the reserve's surplus."""

    __tablename__ = "payment_reserve_totals"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    moved_minor: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
