"""settlement: calendar edits, merchant contracts, payout holds, batches, lines, reserve
holds, payouts

Revision ID: settlement_0001
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "settlement_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("settlement",)
depends_on: str | Sequence[str] | None = ("ledger_0001", "identity_0001")

BIG = sa.BigInteger()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "settlement_calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_business_day", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_settlement_calendar_days")),
    )
    op.create_table(
        "merchant_contracts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fees", sa.JSON(), nullable=False),
        sa.Column("cycle_days", sa.Integer(), nullable=False),
        sa.Column("minimum_payout", BIG, nullable=False),
        sa.Column("reserve_percent", sa.String(12), nullable=False),
        sa.Column("reserve_days", sa.Integer(), nullable=False),
        sa.Column("bank_name", sa.String(200), nullable=False),
        sa.Column("account_name", sa.String(200), nullable=False),
        sa.Column("account_number_encrypted", sa.String(200), nullable=False),
        sa.Column("account_last4", sa.String(4), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_contracts")),
        sa.UniqueConstraint("merchant_id", "version", name="uq_merchant_contracts_version"),
        sa.UniqueConstraint("merchant_id", "effective_date", name="uq_merchant_contracts_date"),
    )
    op.create_table(
        "settlement_payout_holds",
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("is_held", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("set_by", sa.String(80), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_settlement_payout_holds")),
    )
    op.create_table(
        "settlement_batches",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("contract_id", sa.String(40), nullable=True),
        sa.Column("cutoff_at", UTCDateTime(), nullable=False),
        sa.Column("movements", BIG, nullable=False),
        sa.Column("carried_in", BIG, nullable=False),
        sa.Column("reserve_held", BIG, nullable=False),
        sa.Column("reserve_released", BIG, nullable=False),
        sa.Column("net", BIG, nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("payout_date", sa.Date(), nullable=False),
        sa.Column("payout_status", sa.String(20), nullable=False),
        sa.Column("carry_reason", sa.String(40), nullable=True),
        sa.Column("carried_into_batch_id", sa.String(40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_batches")),
        sa.UniqueConstraint(
            "merchant_id", "currency", "business_date", name="uq_settlement_batches_date"
        ),
    )
    op.create_index(
        "ix_settlement_batches_payout", "settlement_batches", ["payout_status", "payout_date"]
    )
    op.create_table(
        "settlement_lines",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("transfer_id", sa.String(128), nullable=True),
        sa.Column("source_id", sa.String(40), nullable=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("amount", BIG, nullable=False),
        sa.Column("fee", BIG, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_lines")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_settlement_lines_transfer_id")),
    )
    op.create_index("ix_settlement_lines_batch", "settlement_lines", ["batch_id", "id"])
    op.create_table(
        "settlement_reserve_holds",
        sa.Column("batch_id", sa.String(40), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", BIG, nullable=False),
        sa.Column("release_date", sa.Date(), nullable=False),
        sa.Column("released_batch_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_settlement_reserve_holds")),
    )
    op.create_index(
        "ix_settlement_reserve_holds_due",
        "settlement_reserve_holds",
        ["merchant_id", "release_date"],
    )
    op.create_table(
        "settlement_payouts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("batch_id", sa.String(40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(80), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", BIG, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("channel_reference", sa.String(80), nullable=True),
        sa.Column("failure_reason", sa.String(200), nullable=True),
        sa.Column("account_last4", sa.String(4), nullable=False),
        sa.Column("transfer_id", sa.String(128), nullable=True),
        sa.Column("return_transfer_id", sa.String(128), nullable=True),
        sa.Column("carried_into_batch_id", sa.String(40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_payouts")),
        sa.UniqueConstraint("batch_id", "attempt", name="uq_settlement_payouts_attempt"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_settlement_payouts_idempotency_key")),
    )
    op.create_index("ix_settlement_payouts_status", "settlement_payouts", ["status"])


def downgrade() -> None:
    op.drop_index("ix_settlement_payouts_status", table_name="settlement_payouts")
    op.drop_table("settlement_payouts")
    op.drop_index("ix_settlement_reserve_holds_due", table_name="settlement_reserve_holds")
    op.drop_table("settlement_reserve_holds")
    op.drop_index("ix_settlement_lines_batch", table_name="settlement_lines")
    op.drop_table("settlement_lines")
    op.drop_index("ix_settlement_batches_payout", table_name="settlement_batches")
    op.drop_table("settlement_batches")
    op.drop_table("settlement_payout_holds")
    op.drop_table("merchant_contracts")
    op.drop_table("settlement_calendar_days")
