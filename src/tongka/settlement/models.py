"""Settlement's tables: the calendar's edits, contracts, batches and their lines, reserve
holds, payouts.

Uniqueness carries the concurrency rules: one batch per (merchant, currency, business
date), a ledger transfer on at most one line (so a late transfer can only land in a later
batch, never twice), one payout per (batch, attempt) with a unique idempotency key (so a
payout never goes out twice), one reserve hold per batch.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, BigIntPK, UTCDateTime


class CalendarDay(Base):
    """The platform's edit of one day (overrides the seeded calendar and the weekday rule)."""

    __tablename__ = "settlement_calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_business_day: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(60))
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MerchantContract(Base):
    """One version of a merchant's contract; it applies from ``effective_date`` on."""

    __tablename__ = "merchant_contracts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "version", name="uq_merchant_contracts_version"),
        UniqueConstraint("merchant_id", "effective_date", name="uq_merchant_contracts_date"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    effective_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    # kind -> {"rate": "0.006", "minimum": 0, "fixed": 0, "rounding": "half_up"}
    fees: Mapped[dict[str, Any]] = mapped_column(JSON)
    cycle_days: Mapped[int] = mapped_column(Integer)
    minimum_payout: Mapped[int] = mapped_column(BigInteger)
    reserve_percent: Mapped[str] = mapped_column(String(12))  # a Decimal, e.g. "0.05"
    reserve_days: Mapped[int] = mapped_column(Integer)
    bank_name: Mapped[str] = mapped_column(String(200))
    account_name: Mapped[str] = mapped_column(String(200))
    account_number_encrypted: Mapped[str] = mapped_column(String(200))
    account_last4: Mapped[str] = mapped_column(String(4))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PayoutHold(Base):
    """Whether a merchant's payouts are held (延迟结算), by risk or an operator, and why.
    Not versioned with the contract: it takes effect at once and is lifted at once."""

    __tablename__ = "settlement_payout_holds"

    merchant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    is_held: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(500))
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SettlementBatch(Base):
    """A merchant's movements of one business date, netted to one payable amount."""

    __tablename__ = "settlement_batches"
    __table_args__ = (
        UniqueConstraint(
            "merchant_id", "currency", "business_date", name="uq_settlement_batches_date"
        ),
        Index("ix_settlement_batches_payout", "payout_status", "payout_date"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    business_date: Mapped[date] = mapped_column(Date)
    contract_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime())
    movements: Mapped[int] = mapped_column(BigInteger)  # the transfer lines' sum
    carried_in: Mapped[int] = mapped_column(BigInteger)
    reserve_held: Mapped[int] = mapped_column(BigInteger)
    reserve_released: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)  # every line's sum
    line_count: Mapped[int] = mapped_column(Integer)
    payout_date: Mapped[date] = mapped_column(Date)
    # due | paying | paid | failed | carried (below the minimum, negative, held)
    payout_status: Mapped[str] = mapped_column(String(20))
    carry_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    carried_into_batch_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SettlementLine(Base):
    """One line of a batch: a ledger transfer on the payable, or an amount carried in.
    ``amount`` is signed from the merchant's side: + owed to them, - owed by them."""

    __tablename__ = "settlement_lines"
    __table_args__ = (Index("ix_settlement_lines_batch", "batch_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    transfer_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    source_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    code: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)  # taken on the way (card → fee income)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReserveHold(Base):
    """The rolling reserve held back from one batch, and the batch that released it."""

    __tablename__ = "settlement_reserve_holds"
    __table_args__ = (Index("ix_settlement_reserve_holds_due", "merchant_id", "release_date"),)

    batch_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    release_date: Mapped[date] = mapped_column(Date)
    released_batch_id: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Payout(Base):
    """One attempt to pay a batch's net out (its key is sent to the channel)."""

    __tablename__ = "settlement_payouts"
    __table_args__ = (
        UniqueConstraint("batch_id", "attempt", name="uq_settlement_payouts_attempt"),
        Index("ix_settlement_payouts_status", "status"),
        Index("ix_settlement_payouts_payout_file", "payout_file"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    # submitting | unknown (timed out) | paid | rejected | returned
    status: Mapped[str] = mapped_column(String(20))
    channel_reference: Mapped[str | None] = mapped_column(String(80), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    account_last4: Mapped[str] = mapped_column(String(4))
    transfer_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    return_transfer_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    carried_into_batch_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # the bank batch payment file (批量代付文件) it went out in (``payout_file.py``): one
    payout_file: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SplitRuleRow(Base):
    """One version of the split rule (分账) between an issuer and an acceptor: a new row
    replaces the pair's rule from ``effective_date`` on; rows are never edited in place.
    ``rule`` is the JSON of ``settlement.split_rules.rule_to_json``."""

    __tablename__ = "settlement_split_rules"
    __table_args__ = (
        UniqueConstraint(
            "issuer_merchant_id",
            "acceptor_merchant_id",
            "version",
            name="uq_settlement_split_rules_version",
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    issuer_merchant_id: Mapped[str] = mapped_column(String(40))
    acceptor_merchant_id: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    effective_date: Mapped[date] = mapped_column(Date)
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
