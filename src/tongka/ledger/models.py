"""The ledger's tables.

``ledger_accounts`` and ``ledger_transfers`` are append-only: nothing is updated or deleted.
``ledger_balances`` is a cache of the transfers (one row per account and shard), changed
only by the posting code in the same transaction as the transfer it reflects; ``verify``
recomputes it from the transfers. ``ledger_blocks`` and ``ledger_block_entries`` seal
committed transfers into a hash chain (see ``sealing.py``).

There are no foreign keys from transfers to accounts on purpose: on PostgreSQL each would
take a ``KEY SHARE`` lock on the account row for every posting, which turns a hot account's
row into a point of contention. Accounts are checked by the posting code instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, BigInteger, Boolean, Index, Integer, String, event, text
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, BigIntPK, UTCDateTime

ACCOUNT_ID_LENGTH = 64
TRANSFER_ID_LENGTH = 128


class LedgerAccount(Base):
    """An account. Immutable once opened, so its metadata can be cached in-process."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (Index("ix_ledger_accounts_owner", "owner_type", "owner_id"),)

    id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    type: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(40))
    owner_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean)
    hot: Mapped[bool] = mapped_column(Boolean)
    shard_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerBalance(Base):
    """One shard of an account's balance; the balance is the sum over its shards."""

    __tablename__ = "ledger_balances"

    account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    debits_posted: Mapped[int] = mapped_column(BigInteger)
    credits_posted: Mapped[int] = mapped_column(BigInteger)
    debits_pending: Mapped[int] = mapped_column(BigInteger)
    credits_pending: Mapped[int] = mapped_column(BigInteger)


# Every posting rewrites balance rows: free space in each page lets PostgreSQL update them in
# place ("HOT" updates) without touching the primary-key index. (The migration does the same.)
BALANCES_FILLFACTOR = "ALTER TABLE ledger_balances SET (fillfactor = 50)"
event.listen(
    LedgerBalance.__table__,
    "after_create",
    DDL(BALANCES_FILLFACTOR).execute_if(dialect="postgresql"),
)


class LedgerTransfer(Base):
    """One transfer. Phase two of a pending transfer is a new row naming it in ``pending_id``.

    ``pending_id`` is unique (a partial unique index), so the database itself guarantees
    that a pending transfer is posted, voided or expired at most once, even under
    concurrent attempts.
    """

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        Index("ix_ledger_transfers_debit_account", "debit_account_id", "sequence"),
        Index("ix_ledger_transfers_credit_account", "credit_account_id", "sequence"),
        # Only pending transfers have these: partial indexes keep every other insert cheaper.
        Index(
            "ix_ledger_transfers_expires_at",
            "expires_at",
            postgresql_where=text("expires_at IS NOT NULL"),
            sqlite_where=text("expires_at IS NOT NULL"),
        ),
        Index(
            "uq_ledger_transfers_pending_id",
            "pending_id",
            unique=True,
            postgresql_where=text("pending_id IS NOT NULL"),
            sqlite_where=text("pending_id IS NOT NULL"),
        ),
        Index("ix_ledger_transfers_created_at", "created_at"),
    )

    sequence: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(TRANSFER_ID_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    debit_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    credit_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    transfer_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    pending_id: Mapped[str | None] = mapped_column(String(TRANSFER_ID_LENGTH), nullable=True)
    timeout_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerBlock(Base):
    """A sealed block: a hash over its transfers' canonical content and the previous hash."""

    __tablename__ = "ledger_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    transfer_count: Mapped[int] = mapped_column(Integer)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerBlockEntry(Base):
    """Names one transfer sealed in a block (each transfer is sealed exactly once)."""

    __tablename__ = "ledger_block_entries"
    __table_args__ = (Index("ix_ledger_block_entries_block", "block_number"),)

    transfer_sequence: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False
    )
    block_number: Mapped[int] = mapped_column(BigInteger)
