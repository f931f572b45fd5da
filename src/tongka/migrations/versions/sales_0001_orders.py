"""sales: orders, their history and refunds, the platform's purchase rules

Revision ID: sales_0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "sales_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sales",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big = sa.BigInteger()
    op.create_table(
        "orders",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("store_id", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("card_id", sa.String(40), nullable=True),
        sa.Column("batch_id", sa.String(40), nullable=True),
        sa.Column("face_value_minor", big, nullable=False),
        sa.Column("card_count", sa.Integer(), nullable=False),
        sa.Column("amount_minor", big, nullable=False),
        sa.Column("bonus_minor", big, nullable=False),
        sa.Column("promotion_id", sa.String(40), nullable=True),
        sa.Column("bonus_account_id", sa.String(120), nullable=True),
        sa.Column("refunded_minor", big, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("buyer_kind", sa.String(10), nullable=False),
        sa.Column("buyer_key", sa.String(120), nullable=False),
        sa.Column("holder_id", sa.String(40), nullable=True),
        sa.Column("buyer_name_masked", sa.String(80), nullable=True),
        sa.Column("is_real_name_given", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=True),
        sa.Column("payment_id", sa.String(40), nullable=True),
        sa.Column("receipt_id", sa.String(40), nullable=True),
        sa.Column("batch_options", sa.JSON(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.Column("fulfilled_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index("ix_orders_merchant_created", "orders", ["merchant_id", "created_at"])
    op.create_index("ix_orders_status_expires", "orders", ["status", "expires_at"])
    op.create_index("ix_orders_buyer_day", "orders", ["buyer_key", "business_date"])
    op.create_index("ix_orders_payment", "orders", ["payment_id"])
    op.create_table(
        "order_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_history")),
    )
    op.create_index("ix_order_history_order", "order_history", ["order_id", "id"])
    op.create_table(
        "order_refunds",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("amount_minor", big, nullable=False),
        sa.Column("bonus_minor", big, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refunds")),
    )
    op.create_index("ix_order_refunds_order", "order_refunds", ["order_id"])
    op.create_table(
        "sales_purchase_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("is_enforced", sa.Boolean(), nullable=False),
        sa.Column("named_min_kyc_level", sa.Integer(), nullable=False),
        sa.Column("anonymous_real_name_minor", big, nullable=False),
        sa.Column("unit_bank_transfer_minor", big, nullable=False),
        sa.Column("person_bank_transfer_minor", big, nullable=False),
        sa.Column("top_up_bank_transfer_minor", big, nullable=False),
        sa.Column("is_credit_card_forbidden", sa.Boolean(), nullable=False),
        sa.Column("splitting_count", sa.Integer(), nullable=False),
        sa.Column("splitting_margin_percent", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_purchase_rules")),
    )


def downgrade() -> None:
    op.drop_table("sales_purchase_rules")
    op.drop_index("ix_order_refunds_order", table_name="order_refunds")
    op.drop_table("order_refunds")
    op.drop_index("ix_order_history_order", table_name="order_history")
    op.drop_table("order_history")
    op.drop_index("ix_orders_payment", table_name="orders")
    op.drop_index("ix_orders_buyer_day", table_name="orders")
    op.drop_index("ix_orders_status_expires", table_name="orders")
    op.drop_index("ix_orders_merchant_created", table_name="orders")
    op.drop_table("orders")
