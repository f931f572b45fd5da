"""sales: card returns (退卡) and the return rules

Revision ID: sales_0003
Revises: sales_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "sales_0003"
down_revision: str | Sequence[str] | None = "sales_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big = sa.BigInteger()
    op.create_table(
        "card_returns",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("card_id", sa.String(40), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("store_id", sa.String(40), nullable=True),
        sa.Column("holder_id", sa.String(40), nullable=True),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount_minor", big, nullable=False),
        sa.Column("bonus_minor", big, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("bank_name", sa.String(100), nullable=True),
        sa.Column("account_name", sa.String(100), nullable=True),
        sa.Column("account_number_encrypted", sa.String(200), nullable=True),
        sa.Column("account_last4", sa.String(4), nullable=True),
        sa.Column("payout_key", sa.String(80), nullable=True),
        sa.Column("channel_reference", sa.String(120), nullable=True),
        sa.Column("failure_reason", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_returns")),
        sa.UniqueConstraint("card_id", name=op.f("uq_card_returns_card_id")),
    )
    op.create_index("ix_card_returns_merchant", "card_returns", ["merchant_id", "id"])
    op.create_index("ix_card_returns_holder", "card_returns", ["holder_id", "id"])
    op.create_index("ix_card_returns_status", "card_returns", ["status"])
    op.create_table(
        "sales_return_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("is_enforced", sa.Boolean(), nullable=False),
        sa.Column("cash_max_minor", big, nullable=False),
        sa.Column("is_named_only", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_return_rules")),
    )


def downgrade() -> None:
    op.drop_table("sales_return_rules")
    op.drop_index("ix_card_returns_status", table_name="card_returns")
    op.drop_index("ix_card_returns_holder", table_name="card_returns")
    op.drop_index("ix_card_returns_merchant", table_name="card_returns")
    op.drop_table("card_returns")
