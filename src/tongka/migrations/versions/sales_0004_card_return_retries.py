"""sales: retrying a card return's rejected or returned payout (退卡重新出款)

Revision ID: sales_0004
Revises: sales_0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "sales_0004"
down_revision: str | Sequence[str] | None = "sales_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card_returns") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "card_return_retries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("return_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("previous_status", sa.String(20), nullable=False),
        sa.Column("previous_reason", sa.String(200), nullable=True),
        sa.Column("previous_last4", sa.String(4), nullable=True),
        sa.Column("bank_name", sa.String(100), nullable=False),
        sa.Column("account_name", sa.String(100), nullable=False),
        sa.Column("account_last4", sa.String(4), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_return_retries")),
        sa.UniqueConstraint("return_id", "attempt", name="uq_card_return_retries_attempt"),
    )


def downgrade() -> None:
    op.drop_table("card_return_retries")
    with op.batch_alter_table("card_returns") as batch:
        batch.drop_column("attempt")
