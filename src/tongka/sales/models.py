"""The orders' tables: orders, each order's history, its refunds, and the platform's
purchase rules (the regulation's thresholds for buying and loading cards).

An order's status moves only through ``sales.order_states.move`` — one conditional
``UPDATE … WHERE status IN (from)`` that also appends the history row and the ``order.*``
event — so two racing transitions (a late payment and the expiry job) cannot both win.
History and refund rows are never updated or deleted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_merchant_created", "merchant_id", "created_at"),
        Index("ix_orders_status_expires", "status", "expires_at"),
        Index("ix_orders_buyer_day", "buyer_key", "business_date"),
        Index("ix_orders_payment", "payment_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    store_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # a till's store
    kind: Mapped[str] = mapped_column(String(20))  # OrderKind
    status: Mapped[str] = mapped_column(String(20))  # OrderStatus
    product_id: Mapped[str] = mapped_column(String(40))
    card_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    batch_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    face_value_minor: Mapped[int] = mapped_column(BigInteger)
    card_count: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # what the buyer pays
    bonus_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # where a bonus came from (a promotion's budget): a refund gives it back there
    promotion_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    bonus_account_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    buyer_kind: Mapped[str] = mapped_column(String(10))  # person | unit
    # who buys, for the splitting rule: the consumer, the unit's name, or the till
    buyer_key: Mapped[str] = mapped_column(String(120))
    holder_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    buyer_name_masked: Mapped[str | None] = mapped_column(String(80), nullable=True)
    is_real_name_given: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    payment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    receipt_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # an enterprise batch's export, given at the order and used once it is paid
    batch_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    business_date: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrderHistory(Base):
    """One row per transition (and the creation): the order's history, append-only."""

    __tablename__ = "order_history"
    __table_args__ = (Index("ix_order_history_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    event_type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrderRefund(Base):
    """A refund of an order: ``id`` is the caller's idempotency key (also the payment
    refund's id); ``amount_minor`` went back to the payer and off the card."""

    __tablename__ = "order_refunds"
    __table_args__ = (Index("ix_order_refunds_order", "order_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40))
    payment_id: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    bonus_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # taken back, not paid
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(120))
    # a batch order's refund: the cards it refunded and closed, [{"card_id", "amount_minor"}]
    cards: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PurchaseRuleSettings(Base):
    """The platform's purchase rules (one row, id 1); ``sales.purchase_rules.PurchaseRules``
    holds the defaults. Shown and set as ``purchase_rules`` of ``/v1/card_regulation``."""

    __tablename__ = "sales_purchase_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    is_enforced: Mapped[bool] = mapped_column(Boolean)
    named_min_kyc_level: Mapped[int] = mapped_column(Integer)
    anonymous_real_name_minor: Mapped[int] = mapped_column(BigInteger)
    unit_bank_transfer_minor: Mapped[int] = mapped_column(BigInteger)
    person_bank_transfer_minor: Mapped[int] = mapped_column(BigInteger)
    top_up_bank_transfer_minor: Mapped[int] = mapped_column(BigInteger)
    is_credit_card_forbidden: Mapped[bool] = mapped_column(Boolean)
    splitting_count: Mapped[int] = mapped_column(Integer)
    splitting_margin_percent: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
