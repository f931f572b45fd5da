"""cards: batches reserve their sequence numbers up front and can fail (dead letter)

Revision ID: cards_0002
Revises: cards_0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "cards_0002"
down_revision: str | Sequence[str] | None = "cards_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card_batches") as batch:
        batch.add_column(sa.Column("first_sequence", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("failed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("card_batches") as batch:
        for column in ("failed_at", "last_error", "next_attempt_at", "attempts", "first_sequence"):
            batch.drop_column(column)
