"""The card returns' tables (退卡): a return, and the platform's return rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class CardReturn(Base):
    """A card returned under the regulation: its paid value paid out to the holder (to a
    bank account in the holder's own name, or in cash at a till for a small amount), its
    bonus forfeited, the card closed. ``id`` comes from the caller's idempotency key."""

    __tablename__ = "card_returns"
    __table_args__ = (
        Index("ix_card_returns_merchant", "merchant_id", "id"),
        Index("ix_card_returns_holder", "holder_id", "id"),
        Index("ix_card_returns_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(40), unique=True)
    merchant_id: Mapped[str] = mapped_column(String(40))  # the card's issuer
    store_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # a till's store
    holder_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    method: Mapped[str] = mapped_column(String(20))  # bank_account | cash
    # paying (submitted) | unknown (no answer yet) | paid | rejected | paid_cash
    status: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # the paid value paid out
    bonus_minor: Mapped[int] = mapped_column(BigInteger)  # forfeited, never paid
    currency: Mapped[str] = mapped_column(String(3))
    bank_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    account_name: Mapped[str | None] = mapped_column(String(100), nullable=True)  # masked
    account_number_encrypted: Mapped[str | None] = mapped_column(String(200), nullable=True)
    account_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    payout_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # 1, then one more per retry of a rejected or returned payout (``return_retries``): the
    # account fields above and ``payout_key`` are the current attempt's
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    channel_reference: Mapped[str | None] = mapped_column(String(120), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardReturnRetry(Base):
    """A new payout attempt of a return whose payout the bank rejected or returned (退票),
    to another account in the holder's name. ``id`` comes from the caller's idempotency
    key; one row per attempt; the attempt it replaced is kept here as it was."""

    __tablename__ = "card_return_retries"
    __table_args__ = (
        UniqueConstraint("return_id", "attempt", name="uq_card_return_retries_attempt"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    return_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)  # the new attempt's number (2, 3, ...)
    previous_status: Mapped[str] = mapped_column(String(20))  # rejected | returned
    previous_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    previous_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    bank_name: Mapped[str] = mapped_column(String(100))
    account_name: Mapped[str] = mapped_column(String(100))  # masked
    account_last4: Mapped[str] = mapped_column(String(4))
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReturnRuleSettings(Base):
    """The return rules the platform set (one row; none: the defaults)."""

    __tablename__ = "sales_return_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    is_enforced: Mapped[bool] = mapped_column(Boolean)
    cash_max_minor: Mapped[int] = mapped_column(BigInteger)
    is_named_only: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
