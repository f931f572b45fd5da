"""redemption controls: limit bounds, product limits, usage counters, breaches, second-factor
challenges, payment codes

Revision ID: redemption_controls_0001
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "redemption_controls_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("redemption_controls",)
depends_on: str | Sequence[str] | None = ("identity_0001", "cards_0001")


def _limit_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("per_transaction_max_minor", sa.BigInteger(), nullable=True),
        sa.Column("card_daily_count", sa.Integer(), nullable=True),
        sa.Column("card_daily_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("card_terminal_daily_count", sa.Integer(), nullable=True),
        sa.Column("terminal_daily_count", sa.Integer(), nullable=True),
        sa.Column("terminal_daily_amount_minor", sa.BigInteger(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "redemption_limit_bounds",
        sa.Column("currency", sa.String(length=3), nullable=False),
        *_limit_columns(),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("currency", name=op.f("pk_redemption_limit_bounds")),
    )
    op.create_table(
        "redemption_product_limits",
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *_limit_columns(),
        sa.Column("challenge_threshold_minor", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_redemption_product_limits")),
    )
    op.create_table(
        "redemption_usage",
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=90), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.Column("used_amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "scope", "subject", "business_date", name=op.f("pk_redemption_usage")
        ),
    )
    op.create_table(
        "redemption_limit_breaches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("card_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("store_id", sa.String(length=40), nullable=True),
        sa.Column("terminal_id", sa.String(length=40), nullable=True),
        sa.Column("limit_name", sa.String(length=40), nullable=False),
        sa.Column("limit_value", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_limit_breaches")),
    )
    op.create_index(
        "ix_redemption_limit_breaches_card",
        "redemption_limit_breaches",
        ["card_id", "created_at"],
    )
    op.create_index(
        "ix_redemption_limit_breaches_merchant",
        "redemption_limit_breaches",
        ["merchant_id", "created_at"],
    )
    op.create_table(
        "redemption_challenges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("card_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("terminal_id", sa.String(length=40), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_challenges")),
    )
    op.create_index(
        "ix_redemption_challenges_card", "redemption_challenges", ["card_id", "created_at"]
    )
    op.create_table(
        "redemption_payment_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.String(length=40), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_redemption_payment_codes")),
    )
    op.create_index(
        "ix_redemption_payment_codes_holder",
        "redemption_payment_codes",
        ["holder_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("redemption_payment_codes")
    op.drop_table("redemption_challenges")
    op.drop_table("redemption_limit_breaches")
    op.drop_table("redemption_usage")
    op.drop_table("redemption_product_limits")
    op.drop_table("redemption_limit_bounds")
