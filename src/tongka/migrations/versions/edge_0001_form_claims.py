"""edge: console form claims (a form acts once however often it is sent)

Revision ID: edge_0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "edge_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("edge",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "form_claims",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_form_claims")),
    )
    op.create_index("ix_form_claims_actor_created", "form_claims", ["actor", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_form_claims_actor_created", table_name="form_claims")
    op.drop_table("form_claims")
