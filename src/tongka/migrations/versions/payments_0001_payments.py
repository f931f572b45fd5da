"""payments: payments, refunds, channel configuration and health, reserve transfers

Revision ID: payments_0001
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "payments_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("payments",)
depends_on: str | Sequence[str] | None = ("ledger_0001",)


def upgrade() -> None:
    big = sa.BigInteger()
    op.create_table(
        "payments",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("purpose_kind", sa.String(20), nullable=False),
        sa.Column("purpose_id", sa.String(64), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("amount_minor", big, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("refunded_minor", big, nullable=False),
        sa.Column("fee_minor", big, nullable=False),
        sa.Column("channel_transaction_id", sa.String(64), nullable=True),
        sa.Column("funding_type", sa.String(20), nullable=True),
        sa.Column("payer_account_name_masked", sa.String(80), nullable=True),
        sa.Column("payer_account_number_masked", sa.String(40), nullable=True),
        sa.Column("payee_account_name_masked", sa.String(80), nullable=True),
        sa.Column("payee_account_number_masked", sa.String(40), nullable=True),
        sa.Column("parties_encrypted", sa.Text(), nullable=True),
        sa.Column("route_reason", sa.String(500), nullable=False),
        sa.Column("instructions", sa.JSON(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_purpose", "payments", ["purpose_kind", "purpose_id"])
    op.create_index("ix_payments_merchant_created", "payments", ["merchant_id", "created_at"])
    op.create_index("ix_payments_status_expires", "payments", ["status", "expires_at"])
    op.create_index("ix_payments_channel_paid", "payments", ["channel", "paid_at"])
    op.create_table(
        "payment_refunds",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("amount_minor", big, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("is_automatic", sa.Boolean(), nullable=False),
        sa.Column("channel_refund_id", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
    )
    op.create_index("ix_payment_refunds_payment", "payment_refunds", ["payment_id"])
    op.create_table(
        "payment_channel_configs",
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("fee_rate", sa.String(20), nullable=False),
        sa.Column("fee_fixed_minor", big, nullable=False),
        sa.Column("min_amount_minor", big, nullable=False),
        sa.Column("max_amount_minor", big, nullable=True),
        sa.Column("preference", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "currency", name=op.f("pk_payment_channel_configs")),
    )
    op.create_table(
        "payment_channel_health",
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("opened_until", UTCDateTime(), nullable=True),
        sa.Column("probe_started_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("last_error_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("last_check_at", UTCDateTime(), nullable=True),
        sa.Column("last_check_ok", sa.Boolean(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_payment_channel_health")),
    )
    op.create_table(
        "payment_reserve_transfers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("amount_minor", big, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("memo", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reserve_transfers")),
    )
    op.create_index(
        "ix_payment_reserve_transfers_created",
        "payment_reserve_transfers",
        ["currency", "created_at"],
    )
    op.create_table(
        "payment_reserve_totals",
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("moved_minor", big, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("currency", name=op.f("pk_payment_reserve_totals")),
    )


def downgrade() -> None:
    op.drop_table("payment_reserve_totals")
    op.drop_index("ix_payment_reserve_transfers_created", table_name="payment_reserve_transfers")
    op.drop_table("payment_reserve_transfers")
    op.drop_table("payment_channel_health")
    op.drop_table("payment_channel_configs")
    op.drop_index("ix_payment_refunds_payment", table_name="payment_refunds")
    op.drop_table("payment_refunds")
    for name in (
        "ix_payments_channel_paid",
        "ix_payments_status_expires",
        "ix_payments_merchant_created",
        "ix_payments_purpose",
    ):
        op.drop_index(name, table_name="payments")
    op.drop_table("payments")
