"""cards: products, batches and export segments, cards, quotas, regulation, inquiry windows

Revision ID: cards_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import BigIntPK, UTCDateTime

revision: str = "cards_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("cards",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "card_inquiry_windows",
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client", name=op.f("pk_card_inquiry_windows")),
    )
    op.create_table(
        "card_issuer_quotas",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quota", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "currency", name=op.f("pk_card_issuer_quotas")),
    )
    op.create_table(
        "card_products",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("bin_prefix", sa.String(length=8), nullable=False),
        sa.Column("number_length", sa.Integer(), nullable=False),
        sa.Column("issued_count", sa.BigInteger(), nullable=False),
        sa.Column("face_values", sa.JSON(), nullable=True),
        sa.Column("face_value_min", sa.BigInteger(), nullable=True),
        sa.Column("face_value_max", sa.BigInteger(), nullable=True),
        sa.Column("is_top_up_allowed", sa.Boolean(), nullable=False),
        sa.Column("max_balance", sa.BigInteger(), nullable=False),
        sa.Column("is_named", sa.Boolean(), nullable=False),
        sa.Column("validity_months", sa.Integer(), nullable=True),
        sa.Column("acceptance", sa.String(length=20), nullable=False),
        sa.Column("accepted_store_ids", sa.JSON(), nullable=False),
        sa.Column("accepted_merchant_ids", sa.JSON(), nullable=False),
        sa.Column("breakage_policy", sa.String(length=20), nullable=False),
        sa.Column("exchange_grace_days", sa.Integer(), nullable=True),
        sa.Column("exchange_ratio", sa.String(length=12), nullable=True),
        sa.Column("form", sa.String(length=10), nullable=False),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=80), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.Column("capacity_warned_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_products")),
        sa.UniqueConstraint("bin_prefix", name=op.f("uq_card_products_bin_prefix")),
    )
    with op.batch_alter_table("card_products", schema=None) as batch_op:
        batch_op.create_index("ix_card_products_merchant", ["merchant_id", "id"], unique=False)

    op.create_table(
        "card_regulation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("is_enforced", sa.Boolean(), nullable=False),
        sa.Column("anonymous_max_balance", sa.BigInteger(), nullable=False),
        sa.Column("named_max_balance", sa.BigInteger(), nullable=False),
        sa.Column("anonymous_min_validity_months", sa.Integer(), nullable=False),
        sa.Column("is_named_expiry_forbidden", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_regulation")),
    )
    op.create_table(
        "card_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("face_value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("issued_count", sa.Integer(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("export_salt", sa.LargeBinary(), nullable=False),
        sa.Column("export_public_key", sa.LargeBinary(), nullable=False),
        sa.Column("exported_at", UTCDateTime(), nullable=True),
        sa.Column("funding_reference", sa.String(length=128), nullable=True),
        sa.Column("funded_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["card_products.id"],
            name=op.f("fk_card_batches_product_id_card_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_batches")),
    )
    with op.batch_alter_table("card_batches", schema=None) as batch_op:
        batch_op.create_index("ix_card_batches_merchant", ["merchant_id", "id"], unique=False)
        batch_op.create_index("ix_card_batches_status", ["status"], unique=False)

    op.create_table(
        "cards",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=True),
        sa.Column("number_index", sa.String(length=64), nullable=False),
        sa.Column("number_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("bin_prefix", sa.String(length=8), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("number_length", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("face_value", sa.BigInteger(), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=True),
        sa.Column("replaced_by_card_id", sa.String(length=40), nullable=True),
        sa.Column("failed_secret_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("activated_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("expired_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("exchangeable_until", UTCDateTime(), nullable=True),
        sa.Column("last_reminder_days", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["card_products.id"], name=op.f("fk_cards_product_id_card_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("number_index", name=op.f("uq_cards_number_index")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index("ix_cards_batch", ["batch_id"], unique=False)
        batch_op.create_index("ix_cards_expires_at", ["status", "expires_at"], unique=False)
        batch_op.create_index("ix_cards_holder", ["holder_id"], unique=False)
        batch_op.create_index("ix_cards_last4", ["merchant_id", "last4"], unique=False)
        batch_op.create_index("ix_cards_merchant", ["merchant_id", "id"], unique=False)

    op.create_table(
        "card_export_segments",
        sa.Column("id", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["card_batches.id"],
            name=op.f("fk_card_export_segments_batch_id_card_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_export_segments")),
        sa.UniqueConstraint(
            "batch_id", "chunk_index", name=op.f("uq_card_export_segments_batch_id")
        ),
    )


def downgrade() -> None:
    for table in (
        "card_export_segments",
        "cards",
        "card_batches",
        "card_regulation",
        "card_products",
        "card_issuer_quotas",
        "card_inquiry_windows",
    ):
        op.drop_table(table)
