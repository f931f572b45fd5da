"""Tables the API layer owns (migration branch ``api``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, BigIntPK, UTCDateTime


class IdempotencyRecord(Base):
    """One ``Idempotency-Key`` a caller used, and the response it got (sealed).

    The row is inserted before the handler runs and completed in the same transaction as the
    handler's effect, so a committed row always carries its response and vice versa.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("caller", "key", name="uq_idempotency_records_caller_key"),
        Index("ix_idempotency_records_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    caller: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sealed_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
