"""payments: a reserve transfer's direction (the platform may also fund the reserve)

Revision ID: payments_0002
Revises: payments_0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0002"
down_revision: str | Sequence[str] | None = "payments_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_reserve_transfers") as batch:
        batch.add_column(
            sa.Column("direction", sa.String(20), nullable=False, server_default="to_operating")
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_reserve_transfers") as batch:
        batch.drop_column("direction")
