"""sales: the cards a batch order's refund refunded and closed

Revision ID: sales_0002
Revises: sales_0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sales_0002"
down_revision: str | Sequence[str] | None = "sales_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_refunds") as batch:
        batch.add_column(sa.Column("cards", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("order_refunds") as batch:
        batch.drop_column("cards")
