"""The deposit ratio's tables (预收资金存管): each single-purpose issuer's class, the
requirement of each quarter (taken once, from the previous quarter's closing prepaid
balance), and each day's figures (the console's chart over time)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class IssuerClass(Base):
    """An issuer's class (规模 / 集团 / 品牌), set by the platform; the ratio follows from it."""

    __tablename__ = "settlement_issuer_classes"

    merchant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    issuer_class: Mapped[str] = mapped_column(String(20))
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DepositRequirement(Base):
    """What an issuer must keep deposited during ``quarter`` (``2026Q4``): ``ratio_bp`` (basis
    points) of the prepaid balance its cards held when the quarter began. Written once."""

    __tablename__ = "settlement_deposit_requirements"

    merchant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    quarter: Mapped[str] = mapped_column(String(6), primary_key=True)
    issuer_class: Mapped[str] = mapped_column(String(20))
    ratio_bp: Mapped[int] = mapped_column(BigInteger)
    prepaid_balance: Mapped[int] = mapped_column(BigInteger)
    required: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DepositDay(Base):
    """One business day's figures of an issuer: what the platform held for it and what it had
    to (the chart of the ratio over time). Written once a day by the worker."""

    __tablename__ = "settlement_deposit_days"
    __table_args__ = (Index("ix_settlement_deposit_days_day", "business_date"),)

    merchant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    held: Mapped[int] = mapped_column(BigInteger)
    required: Mapped[int] = mapped_column(BigInteger)
    prepaid_balance: Mapped[int] = mapped_column(BigInteger)
