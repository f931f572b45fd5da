"""promotions (充值赠送): promotions, their claims, per-holder usage; a product's bonus order

Revision ID: promotions_0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "promotions_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("promotions",)
depends_on: str | Sequence[str] | None = ("cards_0004",)


def upgrade() -> None:
    big = sa.BigInteger()
    op.create_table(
        "promotions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=True),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("min_bonus_minor", big, nullable=False),
        sa.Column("budget_minor", big, nullable=False),
        sa.Column("remaining_minor", big, nullable=False),
        sa.Column("returned_minor", big, nullable=False),
        sa.Column("per_holder_count", sa.Integer(), nullable=True),
        sa.Column("per_holder_amount_minor", big, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("budget_account_id", sa.String(length=120), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    op.create_index("ix_promotions_merchant", "promotions", ["merchant_id", "id"])
    op.create_index("ix_promotions_status_ends", "promotions", ["status", "ends_at"])
    op.create_table(
        "promotion_claims",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("promotion_id", sa.String(length=40), nullable=True),
        sa.Column("holder_id", sa.String(length=40), nullable=True),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("load_minor", big, nullable=False),
        sa.Column("amount_minor", big, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("card_id", sa.String(length=40), nullable=True),
        sa.Column("transfer_id", sa.String(length=120), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_claims")),
        sa.UniqueConstraint("order_id", name=op.f("uq_promotion_claims_order_id")),
    )
    op.create_index("ix_promotion_claims_promotion", "promotion_claims", ["promotion_id", "status"])
    op.create_table(
        "promotion_holder_usage",
        sa.Column("promotion_id", sa.String(length=40), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column("amount_minor", big, nullable=False),
        sa.PrimaryKeyConstraint(
            "promotion_id", "holder_id", name=op.f("pk_promotion_holder_usage")
        ),
    )
    with op.batch_alter_table("card_products") as batch:
        batch.add_column(
            sa.Column(
                "is_bonus_spent_first", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("card_products") as batch:
        batch.drop_column("is_bonus_spent_first")
    op.drop_table("promotion_holder_usage")
    op.drop_index("ix_promotion_claims_promotion", table_name="promotion_claims")
    op.drop_table("promotion_claims")
    op.drop_index("ix_promotions_status_ends", table_name="promotions")
    op.drop_index("ix_promotions_merchant", table_name="promotions")
    op.drop_table("promotions")
