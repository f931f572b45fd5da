"""cards: acceptance agreements (受理协议) and holder bindings (consent)

Revision ID: cards_0004
Revises: cards_0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "cards_0004"
down_revision: str | Sequence[str] | None = "cards_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_acceptance_agreements",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("issuer_merchant_id", sa.String(length=40), nullable=False),
        sa.Column("acceptor_merchant_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("revoked_by", sa.String(length=80), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_acceptance_agreements")),
    )
    op.create_index(
        "ix_card_acceptance_agreements_issuer",
        "card_acceptance_agreements",
        ["issuer_merchant_id", "id"],
    )
    op.create_index(
        "ix_card_acceptance_agreements_acceptor",
        "card_acceptance_agreements",
        ["acceptor_merchant_id", "id"],
    )
    op.create_table(
        "card_holder_bindings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("card_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("consumer_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_holder_bindings_card_id_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_holder_bindings")),
    )
    op.create_index("ix_card_holder_bindings_phone", "card_holder_bindings", ["phone", "status"])
    op.create_index(
        "ix_card_holder_bindings_card", "card_holder_bindings", ["card_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("card_holder_bindings")
    op.drop_table("card_acceptance_agreements")
