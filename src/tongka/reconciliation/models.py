"""Reconciliation's tables: runs, the statement lines they imported (channel and bank), the
ledger's side as the run saw it, exceptions, and their resolutions and approvals.

Nothing here is edited in place once written, except a run's own figures when its
matching finishes: an exception is resolved by a new ``reconciliation_resolutions`` row
(at most one per exception: the unique key settles a race), and an adjustment takes effect
by a new ``reconciliation_approvals`` row (at most one per resolution) and its ledger
transfer, whose id derives from the resolution (posting it twice posts it once).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class ReconciliationRun(Base):
    """One day of one channel (or of the reserve account: ``channel = "reserve"``)."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        UniqueConstraint(
            "channel", "statement_date", "currency", name="uq_reconciliation_runs_day"
        ),
        Index("ix_reconciliation_runs_date", "statement_date"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    statement_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))  # importing | matched
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    channel_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    ledger_count: Mapped[int] = mapped_column(Integer, default=0)
    ledger_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    matched_count: Mapped[int] = mapped_column(Integer, default=0)
    matched_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    exception_count: Mapped[int] = mapped_column(Integer, default=0)
    channel_net_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    bank_status: Mapped[str] = mapped_column(String(20))  # unchecked | matched | mismatch
    bank_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_balance_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bank_balance_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ChannelLine(Base):
    """A line of a channel's daily statement, as imported (in file order)."""

    __tablename__ = "reconciliation_channel_lines"
    __table_args__ = (Index("ix_reconciliation_channel_lines_ref", "run_id", "kind", "reference"),)

    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # payment | refund
    reference: Mapped[str] = mapped_column(String(64))  # payment id, or refund id
    payment_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    trade_date: Mapped[date] = mapped_column(Date)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel_transaction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LedgerLine(Base):
    """The ledger's side as a run saw it: a payment or refund we hold as done through the
    channel, paid on the run's date or a day either side (so a date shift is told from a
    missing line). ``fee_minor`` is the fee we expected (none for a refund)."""

    __tablename__ = "reconciliation_ledger_lines"

    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    business_date: Mapped[date] = mapped_column(Date)


class BankStatement(Base):
    """One day's statement of the reserve bank account."""

    __tablename__ = "reconciliation_bank_statements"
    __table_args__ = (
        UniqueConstraint("statement_date", "currency", name="uq_reconciliation_bank_day"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    statement_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    line_count: Mapped[int] = mapped_column(Integer)
    credit_minor: Mapped[int] = mapped_column(BigInteger)
    debit_minor: Mapped[int] = mapped_column(BigInteger)
    closing_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    imported_by: Mapped[str] = mapped_column(String(80))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BankLine(Base):
    """A line of the reserve account's statement. A channel's settlement of a day names
    it in the note (``结算 wechat 2026-12-01``): ``channel`` and ``settles_date``."""

    __tablename__ = "reconciliation_bank_lines"
    __table_args__ = (Index("ix_reconciliation_bank_lines_settles", "channel", "settles_date"),)

    statement_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(6))  # credit | debit
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    serial: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    settles_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    balance_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReconciliationException(Base):
    """One difference a run found (``kind``: see ``tongka.reconciliation.kinds``)."""

    __tablename__ = "reconciliation_exceptions"
    __table_args__ = (
        Index("ix_reconciliation_exceptions_run", "run_id", "id"),
        Index("ix_reconciliation_exceptions_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    statement_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    line_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)  # payment | refund
    line_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channel_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bank_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    channel_fee_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_fee_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Resolution(Base):
    """How an operator resolves an exception, and why: a match by hand (final at once) or
    an adjusting transfer through the suspense account (final once another person
    approves it)."""

    __tablename__ = "reconciliation_resolutions"
    __table_args__ = (
        UniqueConstraint("exception_id", name="uq_reconciliation_resolutions_exception"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    exception_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20))  # manual_match | adjustment
    reason: Mapped[str] = mapped_column(String(500))
    matched_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    debit_account_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    credit_account_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Approval(Base):
    """The second person's approval of an adjustment, and the transfer it posted."""

    __tablename__ = "reconciliation_approvals"

    resolution_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    approved_by: Mapped[str] = mapped_column(String(80))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    transfer_id: Mapped[str] = mapped_column(String(128))
