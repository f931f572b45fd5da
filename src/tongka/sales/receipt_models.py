"""The receipts table (电子回单): one row per paid order, and one per refund of it.

Why the content is one JSON text: the receipt's facts are what the HMAC signs, byte for
byte (``tongka.sales.receipts.canonical_content``). The columns beside it (order, merchant,
kind, amount) are copies for finding receipts; ``verify_receipt`` checks they still agree
with the signed content, so neither can be changed alone without the check noticing.
Rows are never updated or deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class Receipt(Base):
    """An issued receipt; ``code`` is its public verification code (``XXXX-XXXX-…``)."""

    __tablename__ = "receipts"
    __table_args__ = (
        Index("ix_receipts_order_id", "order_id"),
        Index("ix_receipts_merchant_issued", "merchant_id", "issued_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    # what makes issuing idempotent: the order, or the order and its refund
    issue_key: Mapped[str] = mapped_column(String(100), unique=True)
    order_id: Mapped[str] = mapped_column(String(40))
    merchant_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    original_receipt_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    content: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(80))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
