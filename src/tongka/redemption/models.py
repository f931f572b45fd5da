"""Redemption records: every answer (approved or declined), holds, refunds, and the keys
that make a redemption and its reversal (冲正) happen exactly once.

``redemption_keys`` is the meeting point of an original and its reversal: whichever
arrives first inserts the (merchant, idempotency key) row, the other waits on the unique
key (PostgreSQL) or the single writer (SQLite) and then sees what the first did.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class Redemption(Base):
    """One card's part of a purchase: a direct redemption or an authorization (hold)."""

    __tablename__ = "redemptions"
    __table_args__ = (
        Index("ix_redemptions_merchant_created", "merchant_id", "created_at"),
        Index("ix_redemptions_card_id", "card_id"),
        Index("ix_redemptions_purchase_id", "purchase_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # redemption | authorization
    status: Mapped[str] = mapped_column(String(20))
    decline_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    store_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    terminal_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    card_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    purchase_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(300))
    currency: Mapped[str] = mapped_column(String(3))
    requested: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)  # taken (or held)
    paid: Mapped[int] = mapped_column(BigInteger)
    bonus: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    captured: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_bonus: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RedemptionRefund(Base):
    __tablename__ = "redemption_refunds"
    __table_args__ = (Index("ix_redemption_refunds_redemption", "redemption_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    redemption_id: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[int] = mapped_column(BigInteger)
    bonus: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RedemptionKey(Base):
    """(merchant, idempotency key) of an original: what it became, and whether reversed."""

    __tablename__ = "redemption_keys"

    merchant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    purchase_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    is_reversed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
