"""Tables the edges own (migration branch ``edge``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class FormClaim(Base):
    """A console form's token, claimed by its first submit, and what that submit made
    (``tongka.edge.form_once``): a second submit of the same form answers that object."""

    __tablename__ = "form_claims"
    __table_args__ = (Index("ix_form_claims_actor_created", "actor", "created_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(actor, token)
    actor: Mapped[str] = mapped_column(String(80))
    object_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
