"""The tables of the redemption controls: limits, usage counters, breaches, second-factor
challenges and payment codes (migration branch ``redemption_controls``).

They live apart from the redemption core's ``models.py`` (another engineer's) and are
imported by the package's ``__init__`` so ``import_all_models`` sees them.

Usage counters are the only mutable rows: one per (scope, subject, business date), moved
by a single conditional ``UPDATE`` in the redemption's own transaction (see
``decision.py``). Breaches and challenges are append-only records of what was decided.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class RedemptionLimitBounds(Base):
    """The platform's bounds for one currency: no product may set a limit above them (a
    missing product limit means the bound). ``None`` = the platform sets no bound."""

    __tablename__ = "redemption_limit_bounds"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    per_transaction_max_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    card_daily_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    card_daily_amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    card_terminal_daily_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    terminal_daily_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    terminal_daily_amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RedemptionProductLimits(Base):
    """An issuer's limits for one product (each within the bounds), and the amount above
    which a redemption needs the holder's SMS confirmation (``None``: never)."""

    __tablename__ = "redemption_product_limits"

    product_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    per_transaction_max_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    card_daily_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    card_daily_amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    card_terminal_daily_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    terminal_daily_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    terminal_daily_amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    challenge_threshold_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RedemptionUsage(Base):
    """How much was redeemed in one scope on one business date (``scope``: ``card``,
    ``card_terminal`` or ``terminal``; ``subject`` the card id, ``card:terminal`` or the
    terminal id)."""

    __tablename__ = "redemption_usage"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    subject: Mapped[str] = mapped_column(String(90), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date(), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    used_count: Mapped[int] = mapped_column(Integer)
    used_amount_minor: Mapped[int] = mapped_column(BigInteger)


class RedemptionLimitBreach(Base):
    """A redemption declined ``limit_exceeded``: which limit, its value, and the attempt."""

    __tablename__ = "redemption_limit_breaches"
    __table_args__ = (
        Index("ix_redemption_limit_breaches_card", "card_id", "created_at"),
        Index("ix_redemption_limit_breaches_merchant", "merchant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str] = mapped_column(String(40))
    merchant_id: Mapped[str] = mapped_column(String(40))
    store_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    terminal_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    limit_name: Mapped[str] = mapped_column(String(40))
    limit_value: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    business_date: Mapped[date] = mapped_column(Date())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RedemptionChallenge(Base):
    """A second-factor challenge: a code texted to the holder, kept only as an HMAC bound
    to this row, for one card, merchant, terminal and amount; ``status`` pending → used, or
    locked after too many wrong codes. Expiry is ``expires_at`` (no job needed)."""

    __tablename__ = "redemption_challenges"
    __table_args__ = (Index("ix_redemption_challenges_card", "card_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(40))
    merchant_id: Mapped[str] = mapped_column(String(40))
    terminal_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    failed_attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PaymentCode(Base):
    """A holder's one-time payment code for one card, looked up by a keyed hash (the code
    itself is not stored); valid until ``expires_at``, spent when ``used_at`` is set."""

    __tablename__ = "redemption_payment_codes"
    __table_args__ = (Index("ix_redemption_payment_codes_holder", "holder_id", "created_at"),)

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(40))
    holder_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
