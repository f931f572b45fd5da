"""receipts: issued receipts (电子回单) with their signed content

Revision ID: receipts_0001
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "receipts_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("receipts",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("issue_key", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("original_receipt_id", sa.String(length=40), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=80), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("code", name=op.f("uq_receipts_code")),
        sa.UniqueConstraint("issue_key", name=op.f("uq_receipts_issue_key")),
    )
    op.create_index("ix_receipts_order_id", "receipts", ["order_id"])
    op.create_index("ix_receipts_merchant_issued", "receipts", ["merchant_id", "issued_at"])


def downgrade() -> None:
    op.drop_index("ix_receipts_merchant_issued", table_name="receipts")
    op.drop_index("ix_receipts_order_id", table_name="receipts")
    op.drop_table("receipts")
