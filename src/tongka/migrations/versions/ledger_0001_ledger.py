"""ledger: accounts, balance shards, transfers, sealed blocks

Revision ID: ledger_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import BigIntPK, UTCDateTime

revision: str = "ledger_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ledger",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("owner_type", sa.String(40), nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.Column("debits_must_not_exceed_credits", sa.Boolean(), nullable=False),
        sa.Column("credits_must_not_exceed_debits", sa.Boolean(), nullable=False),
        sa.Column("hot", sa.Boolean(), nullable=False),
        sa.Column("shard_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
    )
    op.create_index("ix_ledger_accounts_owner", "ledger_accounts", ["owner_type", "owner_id"])
    op.create_table(
        "ledger_balances",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "shard", name=op.f("pk_ledger_balances")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_balances SET (fillfactor = 50)")  # HOT updates
    op.create_table(
        "ledger_transfers",
        sa.Column("sequence", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("debit_account_id", sa.String(64), nullable=False),
        sa.Column("credit_account_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("pending_id", sa.String(128), nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_ledger_transfers")),
        sa.UniqueConstraint("id", name=op.f("uq_ledger_transfers_id")),
    )
    op.create_index(
        "uq_ledger_transfers_pending_id",
        "ledger_transfers",
        ["pending_id"],
        unique=True,
        postgresql_where=sa.text("pending_id IS NOT NULL"),
        sqlite_where=sa.text("pending_id IS NOT NULL"),
    )
    op.create_index("ix_ledger_transfers_created_at", "ledger_transfers", ["created_at"])
    op.create_index(
        "ix_ledger_transfers_credit_account", "ledger_transfers", ["credit_account_id", "sequence"]
    )
    op.create_index(
        "ix_ledger_transfers_debit_account", "ledger_transfers", ["debit_account_id", "sequence"]
    )
    op.create_index(
        "ix_ledger_transfers_expires_at",
        "ledger_transfers",
        ["expires_at"],
        postgresql_where=sa.text("expires_at IS NOT NULL"),
        sqlite_where=sa.text("expires_at IS NOT NULL"),
    )
    op.create_table(
        "ledger_blocks",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("transfer_count", sa.Integer(), nullable=False),
        sa.Column("sealed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_ledger_blocks")),
    )
    op.create_table(
        "ledger_block_entries",
        sa.Column("transfer_sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("transfer_sequence", name=op.f("pk_ledger_block_entries")),
    )
    op.create_index("ix_ledger_block_entries_block", "ledger_block_entries", ["block_number"])


def downgrade() -> None:
    for table in (
        "ledger_block_entries",
        "ledger_blocks",
        "ledger_transfers",
        "ledger_balances",
        "ledger_accounts",
    ):
        op.drop_table(table)
