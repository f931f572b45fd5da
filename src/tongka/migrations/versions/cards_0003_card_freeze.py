"""cards: who froze a card (side, actor), why and when

Revision ID: cards_0003
Revises: cards_0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "cards_0003"
down_revision: str | Sequence[str] | None = "cards_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("frozen_by_side", "frozen_by_actor", "frozen_reason", "frozen_at")


def upgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("frozen_by_side", sa.String(10), nullable=True))
        batch.add_column(sa.Column("frozen_by_actor", sa.String(80), nullable=True))
        batch.add_column(sa.Column("frozen_reason", sa.String(500), nullable=True))
        batch.add_column(sa.Column("frozen_at", UTCDateTime(), nullable=True))
    # a card frozen before sides were recorded: its freeze is treated as the platform's, so
    # only the platform may lift it (the safe reading of an unknown hold)
    op.execute(
        "UPDATE cards SET frozen_by_side = 'platform', frozen_at = updated_at "
        "WHERE status = 'frozen'"
    )


def downgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
