"""settlement: split rules (分账) per issuer and acceptor pair

Revision ID: settlement_0003_split_rules
Revises: settlement_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "settlement_0003_split_rules"
down_revision: str | Sequence[str] | None = "settlement_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_split_rules",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("issuer_merchant_id", sa.String(40), nullable=False),
        sa.Column("acceptor_merchant_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_split_rules")),
        sa.UniqueConstraint(
            "issuer_merchant_id",
            "acceptor_merchant_id",
            "version",
            name="uq_settlement_split_rules_version",
        ),
    )


def downgrade() -> None:
    op.drop_table("settlement_split_rules")
