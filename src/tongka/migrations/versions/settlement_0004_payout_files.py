"""settlement: the bank batch payment file (批量代付文件) a payout went out in

Revision ID: settlement_0004_payout_files
Revises: settlement_0003_split_rules
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlement_0004_payout_files"
down_revision: str | Sequence[str] | None = "settlement_0003_split_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("settlement_payouts") as table:
        table.add_column(sa.Column("payout_file", sa.String(40), nullable=True))
        table.create_index("ix_settlement_payouts_payout_file", ["payout_file"])


def downgrade() -> None:
    with op.batch_alter_table("settlement_payouts") as table:
        table.drop_index("ix_settlement_payouts_payout_file")
        table.drop_column("payout_file")
