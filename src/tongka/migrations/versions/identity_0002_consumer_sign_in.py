"""identity: consumer sign-in (login codes, sandbox SMS, consumer sessions)

Revision ID: identity_0002
Revises: identity_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongka.db.base import UTCDateTime

revision: str = "identity_0002"
down_revision: str | Sequence[str] | None = "identity_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_SUBJECT = (
    "(user_id IS NULL AND consumer_id IS NOT NULL) OR (user_id IS NOT NULL AND consumer_id IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "consumer_login_codes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_login_codes")),
    )
    op.create_index(
        "ix_consumer_login_codes_phone_created",
        "consumer_login_codes",
        ["phone", "created_at"],
    )
    op.create_table(
        "sandbox_sms_messages",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_sms_messages")),
    )
    op.create_index("ix_sandbox_sms_messages_phone", "sandbox_sms_messages", ["phone"])
    # batch mode: SQLite rebuilds the table to relax NOT NULL and add the check
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("consumer_id", sa.String(40), nullable=True))
        batch.alter_column("user_id", existing_type=sa.String(40), nullable=True)
        batch.create_check_constraint("one_subject", ONE_SUBJECT)
        batch.create_index("ix_console_sessions_consumer_id", ["consumer_id"])


def downgrade() -> None:
    op.execute("DELETE FROM console_sessions WHERE consumer_id IS NOT NULL")
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_index("ix_console_sessions_consumer_id")
        batch.drop_constraint("one_subject", type_="check")
        batch.alter_column("user_id", existing_type=sa.String(40), nullable=False)
        batch.drop_column("consumer_id")
    op.drop_table("sandbox_sms_messages")
    op.drop_table("consumer_login_codes")
