"""The event outbox table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, BigIntPK, UTCDateTime


class Event(Base):
    """One business change. Append-only: never updated or deleted."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_merchant_sequence", "merchant_id", "sequence"),
        Index("ix_events_object", "object_type", "object_id"),
    )

    sequence: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
