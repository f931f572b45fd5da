"""redemption: redemptions, refunds, and the keys an original shares with its reversal

Revision ID: redemption_0001
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "redemption_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("redemption",)
depends_on: str | Sequence[str] | None = ("cards_0004", "ledger_0001")


def upgrade() -> None:
    big = sa.BigInteger()
    op.create_table(
        "redemptions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decline_code", sa.String(40), nullable=True),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("store_id", sa.String(40), nullable=True),
        sa.Column("terminal_id", sa.String(40), nullable=True),
        sa.Column("card_id", sa.String(40), nullable=True),
        sa.Column("purchase_id", sa.String(40), nullable=True),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("requested", big, nullable=False),
        sa.Column("amount", big, nullable=False),
        sa.Column("paid", big, nullable=False),
        sa.Column("bonus", big, nullable=False),
        sa.Column("fee", big, nullable=False),
        sa.Column("captured", big, nullable=False),
        sa.Column("refunded", big, nullable=False),
        sa.Column("refunded_paid", big, nullable=False),
        sa.Column("refunded_bonus", big, nullable=False),
        sa.Column("refunded_fee", big, nullable=False),
        sa.Column("balance_after", big, nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
    )
    op.create_index("ix_redemptions_merchant_created", "redemptions", ["merchant_id", "created_at"])
    op.create_index("ix_redemptions_card_id", "redemptions", ["card_id"])
    op.create_index("ix_redemptions_purchase_id", "redemptions", ["purchase_id"])
    op.create_table(
        "redemption_refunds",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("redemption_id", sa.String(40), nullable=False),
        sa.Column("amount", big, nullable=False),
        sa.Column("paid", big, nullable=False),
        sa.Column("bonus", big, nullable=False),
        sa.Column("fee", big, nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_refunds")),
    )
    op.create_index("ix_redemption_refunds_redemption", "redemption_refunds", ["redemption_id"])
    op.create_table(
        "redemption_keys",
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("purchase_id", sa.String(40), nullable=True),
        sa.Column("is_reversed", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("reversed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("merchant_id", "key", name=op.f("pk_redemption_keys")),
    )


def downgrade() -> None:
    op.drop_table("redemption_keys")
    op.drop_index("ix_redemption_refunds_redemption", table_name="redemption_refunds")
    op.drop_table("redemption_refunds")
    op.drop_index("ix_redemptions_purchase_id", table_name="redemptions")
    op.drop_index("ix_redemptions_card_id", table_name="redemptions")
    op.drop_index("ix_redemptions_merchant_created", table_name="redemptions")
    op.drop_table("redemptions")
