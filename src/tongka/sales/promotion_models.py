"""The promotions' tables (充值赠送): promotions, their claims, per-holder usage.

Why ``remaining_minor`` is a column beside the ledger: the budget's money sits in the
promotion's ledger account from the moment the promotion starts; ``remaining_minor`` is what
of it no order has claimed yet. A claim takes its bonus out of ``remaining_minor`` with one
conditional ``UPDATE … WHERE remaining_minor >= :bonus`` (no read-modify-write race), and the
ledger moves the money onto the card only when the order is fulfilled. So the budget account's
balance is always ``remaining_minor`` + the claims not yet posted (nor released); ending the
promotion gives ``remaining_minor`` back to the merchant.

Tiers and products are small JSON lists (a promotion has a handful of tiers, few products):
they are read with the promotion and never searched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tongka.db.base import Base, UTCDateTime


class Promotion(Base):
    """A merchant's bonus offer: load at least a tier's ``min_load_minor``, receive its
    ``bonus_minor``, from a budget the merchant funded, within ``starts_at``..``ends_at``."""

    __tablename__ = "promotions"
    __table_args__ = (
        Index("ix_promotions_merchant", "merchant_id", "id"),
        Index("ix_promotions_status_ends", "status", "ends_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    # None: every product of the merchant in the currency
    product_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # [{"min_load_minor": 50000, "bonus_minor": 5000}, ...] ascending by min_load_minor
    tiers: Mapped[list[dict[str, int]]] = mapped_column(JSON)
    min_bonus_minor: Mapped[int] = mapped_column(BigInteger)  # the smallest tier's bonus
    budget_minor: Mapped[int] = mapped_column(BigInteger)
    remaining_minor: Mapped[int] = mapped_column(BigInteger)
    returned_minor: Mapped[int] = mapped_column(BigInteger)
    per_holder_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    per_holder_amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # active, exhausted, ended
    budget_account_id: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class PromotionClaim(Base):
    """One order's bonus: claimed (reserved from the budget), posted (on the card), released
    (given back), or ``none`` (no promotion applied: the answer stays the same on a retry).
    ``order_id`` is unique: claiming is idempotent per order."""

    __tablename__ = "promotion_claims"
    __table_args__ = (Index("ix_promotion_claims_promotion", "promotion_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    promotion_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    holder_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    product_id: Mapped[str] = mapped_column(String(40))
    load_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))  # claimed, posted, released, none
    card_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    transfer_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PromotionHolderUsage(Base):
    """What one holder has claimed of one promotion (claims released are given back), kept
    so a per-holder cap is tested in the same conditional ``UPDATE`` that counts the claim."""

    __tablename__ = "promotion_holder_usage"

    promotion_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    claim_count: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
