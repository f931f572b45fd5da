"""reconciliation: runs, channel and bank statement lines, the ledger's side, exceptions,
resolutions, approvals

Revision ID: reconciliation_0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "reconciliation_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("reconciliation",)
depends_on: str | Sequence[str] | None = ("ledger_0001", "payments_0001")


def upgrade() -> None:
    op.create_table(
        "reconciliation_approvals",
        sa.Column("resolution_id", sa.String(length=40), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=False),
        sa.Column("approved_at", UTCDateTime(), nullable=False),
        sa.Column("transfer_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("resolution_id", name=op.f("pk_reconciliation_approvals")),
    )
    op.create_table(
        "reconciliation_bank_lines",
        sa.Column("statement_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("settles_date", sa.Date(), nullable=True),
        sa.Column("balance_minor", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "statement_id", "line_no", name=op.f("pk_reconciliation_bank_lines")
        ),
    )
    op.create_index(
        "ix_reconciliation_bank_lines_settles",
        "reconciliation_bank_lines",
        ["channel", "settles_date"],
        unique=False,
    )
    op.create_table(
        "reconciliation_bank_statements",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("credit_minor", sa.BigInteger(), nullable=False),
        sa.Column("debit_minor", sa.BigInteger(), nullable=False),
        sa.Column("closing_minor", sa.BigInteger(), nullable=True),
        sa.Column("imported_by", sa.String(length=80), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_bank_statements")),
        sa.UniqueConstraint("statement_date", "currency", name="uq_reconciliation_bank_day"),
    )
    op.create_table(
        "reconciliation_channel_lines",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("channel_transaction_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "line_no", name=op.f("pk_reconciliation_channel_lines")),
    )
    op.create_index(
        "ix_reconciliation_channel_lines_ref",
        "reconciliation_channel_lines",
        ["run_id", "kind", "reference"],
        unique=False,
    )
    op.create_table(
        "reconciliation_exceptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("line_kind", sa.String(length=10), nullable=True),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("channel_minor", sa.BigInteger(), nullable=True),
        sa.Column("ledger_minor", sa.BigInteger(), nullable=True),
        sa.Column("bank_minor", sa.BigInteger(), nullable=True),
        sa.Column("channel_fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("ledger_fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("ledger_date", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_exceptions")),
    )
    op.create_index(
        "ix_reconciliation_exceptions_created",
        "reconciliation_exceptions",
        ["created_at"],
        unique=False,
    )
    op.create_index(
        "ix_reconciliation_exceptions_run",
        "reconciliation_exceptions",
        ["run_id", "id"],
        unique=False,
    )
    op.create_table(
        "reconciliation_ledger_lines",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint(
            "run_id", "kind", "reference", name=op.f("pk_reconciliation_ledger_lines")
        ),
    )
    op.create_table(
        "reconciliation_resolutions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("exception_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("matched_reference", sa.String(length=64), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("debit_account_id", sa.String(length=128), nullable=True),
        sa.Column("credit_account_id", sa.String(length=128), nullable=True),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_resolutions")),
        sa.UniqueConstraint("exception_id", name="uq_reconciliation_resolutions_exception"),
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("channel_minor", sa.BigInteger(), nullable=False),
        sa.Column("ledger_count", sa.Integer(), nullable=False),
        sa.Column("ledger_minor", sa.BigInteger(), nullable=False),
        sa.Column("matched_count", sa.Integer(), nullable=False),
        sa.Column("matched_minor", sa.BigInteger(), nullable=False),
        sa.Column("exception_count", sa.Integer(), nullable=False),
        sa.Column("channel_net_minor", sa.BigInteger(), nullable=False),
        sa.Column("bank_status", sa.String(length=20), nullable=False),
        sa.Column("bank_minor", sa.BigInteger(), nullable=True),
        sa.Column("ledger_balance_minor", sa.BigInteger(), nullable=True),
        sa.Column("bank_balance_minor", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
        sa.UniqueConstraint(
            "channel", "statement_date", "currency", name="uq_reconciliation_runs_day"
        ),
    )
    op.create_index(
        "ix_reconciliation_runs_date", "reconciliation_runs", ["statement_date"], unique=False
    )


def downgrade() -> None:
    op.drop_table("reconciliation_approvals")
    op.drop_table("reconciliation_resolutions")
    op.drop_table("reconciliation_exceptions")
    op.drop_table("reconciliation_bank_lines")
    op.drop_table("reconciliation_bank_statements")
    op.drop_table("reconciliation_ledger_lines")
    op.drop_table("reconciliation_channel_lines")
    op.drop_table("reconciliation_runs")
