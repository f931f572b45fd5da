"""settlement: issuer classes, quarterly deposit requirements, daily deposit figures
(预收资金存管)

Revision ID: settlement_0002
Revises: settlement_0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "settlement_0002"
down_revision: str | Sequence[str] | None = "settlement_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger()


def upgrade() -> None:
    op.create_table(
        "settlement_issuer_classes",
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("issuer_class", sa.String(20), nullable=False),
        sa.Column("set_by", sa.String(80), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_settlement_issuer_classes")),
    )
    op.create_table(
        "settlement_deposit_requirements",
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("quarter", sa.String(6), nullable=False),
        sa.Column("issuer_class", sa.String(20), nullable=False),
        sa.Column("ratio_bp", BIG, nullable=False),
        sa.Column("prepaid_balance", BIG, nullable=False),
        sa.Column("required", BIG, nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id", "currency", "quarter", name=op.f("pk_settlement_deposit_requirements")
        ),
    )
    op.create_table(
        "settlement_deposit_days",
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("held", BIG, nullable=False),
        sa.Column("required", BIG, nullable=False),
        sa.Column("prepaid_balance", BIG, nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id", "currency", "business_date", name=op.f("pk_settlement_deposit_days")
        ),
    )
    op.create_index("ix_settlement_deposit_days_day", "settlement_deposit_days", ["business_date"])


def downgrade() -> None:
    op.drop_index("ix_settlement_deposit_days_day", table_name="settlement_deposit_days")
    op.drop_table("settlement_deposit_days")
    op.drop_table("settlement_deposit_requirements")
    op.drop_table("settlement_issuer_classes")
