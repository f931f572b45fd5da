"""The card part's tables.

A card holds no balance column: its balance is its ledger accounts' balance (ARCHITECTURE
rule 2). Card numbers are stored as a blind index (exact lookup), an AES-GCM ciphertext
(for the rare legitimate need to show the full number) and the BIN + last four digits in
clear (masked display); secrets only as a keyed hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import false

from tongka.db.base import Base, BigIntPK, UTCDateTime


class CardProduct(Base):
    """A kind of card (卡种) with its own BIN range. ``issued_count`` is the next sequence."""

    __tablename__ = "card_products"
    __table_args__ = (Index("ix_card_products_merchant", "merchant_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    bin_prefix: Mapped[str] = mapped_column(String(8), unique=True)
    number_length: Mapped[int] = mapped_column(Integer)
    issued_count: Mapped[int] = mapped_column(BigInteger)
    face_values: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    face_value_min: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    face_value_max: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    is_top_up_allowed: Mapped[bool] = mapped_column(Boolean)
    max_balance: Mapped[int] = mapped_column(BigInteger)
    is_named: Mapped[bool] = mapped_column(Boolean)
    validity_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acceptance: Mapped[str] = mapped_column(String(20))
    accepted_store_ids: Mapped[list[str]] = mapped_column(JSON)
    accepted_merchant_ids: Mapped[list[str]] = mapped_column(JSON)
    breakage_policy: Mapped[str] = mapped_column(String(20))
    exchange_grace_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exchange_ratio: Mapped[str | None] = mapped_column(String(12), nullable=True)
    form: Mapped[str] = mapped_column(String(10))
    # 充值赠送: bonus value is spent before the paid value (else after it, the default);
    # the column comes with the promotions' migration (``promotions_0001``)
    is_bonus_spent_first: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    capacity_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardBatch(Base):
    """A batch issue job. Progress is ``issued_count / total``; chunks are idempotent."""

    __tablename__ = "card_batches"
    __table_args__ = (
        Index("ix_card_batches_merchant", "merchant_id", "id"),
        Index("ix_card_batches_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str] = mapped_column(ForeignKey("card_products.id"))
    face_value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(Integer)
    issued_count: Mapped[int] = mapped_column(Integer)
    chunk_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    export_salt: Mapped[bytes] = mapped_column(LargeBinary)
    export_public_key: Mapped[bytes] = mapped_column(LargeBinary)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    funding_reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    funded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the first of the ``total`` sequence numbers reserved when the batch was created
    # (None: a batch from before reservations, whose chunks reserve as they go)
    first_sequence: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # consecutive failed runs, when the next may start, and the last error; after
    # ``tongka.worker.MAX_ATTEMPTS`` the batch is ``failed`` (a dead letter) until retried
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CardExportSegment(Base):
    """One chunk's sealed CSV rows; deleted once the export has been downloaded."""

    __tablename__ = "card_export_segments"
    __table_args__ = (UniqueConstraint("batch_id", "chunk_index"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("card_batches.id"))
    chunk_index: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[str] = mapped_column(Text)


class Card(Base):
    """One card. Ledger accounts are opened at activation: an issued card holds no money."""

    __tablename__ = "cards"
    __table_args__ = (
        Index("ix_cards_merchant", "merchant_id", "id"),
        Index("ix_cards_batch", "batch_id"),
        Index("ix_cards_holder", "holder_id"),
        Index("ix_cards_last4", "merchant_id", "last4"),
        Index("ix_cards_expires_at", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str] = mapped_column(ForeignKey("card_products.id"))
    batch_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    number_index: Mapped[str] = mapped_column(String(64), unique=True)
    number_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    bin_prefix: Mapped[str] = mapped_column(String(8))
    last4: Mapped[str] = mapped_column(String(4))
    number_length: Mapped[int] = mapped_column(Integer)
    secret_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    face_value: Mapped[int] = mapped_column(BigInteger)
    holder_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    replaced_by_card_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    failed_secret_attempts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    exchangeable_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_reminder_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the last freeze: which side set it (holder / issuer / platform), who and why; only
    # that side or the platform may lift it (cleared when the card leaves ``frozen``)
    frozen_by_side: Mapped[str | None] = mapped_column(String(10), nullable=True)
    frozen_by_actor: Mapped[str | None] = mapped_column(String(80), nullable=True)
    frozen_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardIssuerQuota(Base):
    """Issuing capacity (额度控制) the platform grants an issuer, per currency.

    The row is also the lock that serializes funding of the issuer's cards, so the check
    "outstanding + amount <= quota" and the funding transfer happen under one lock.
    """

    __tablename__ = "card_issuer_quotas"

    merchant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    quota: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardRegulation(Base):
    """The platform's prepaid-card rules (one row, id 1). Also the BIN-registry lock."""

    __tablename__ = "card_regulation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    is_enforced: Mapped[bool] = mapped_column(Boolean)
    anonymous_max_balance: Mapped[int] = mapped_column(BigInteger)
    named_max_balance: Mapped[int] = mapped_column(BigInteger)
    anonymous_min_validity_months: Mapped[int] = mapped_column(Integer)
    is_named_expiry_forbidden: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardInquiryWindow(Base):
    """Balance-inquiry attempts per client address in a fixed window (rate limit)."""

    __tablename__ = "card_inquiry_windows"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)


class CardAcceptanceAgreement(Base):
    """An acceptance agreement (受理协议): ``acceptor_merchant_id`` agrees to accept the cards
    of ``issuer_merchant_id`` at its stores. Proposed by the issuer, approved or rejected by
    the acceptor, revoked by either; rows are never deleted (a new proposal is a new row).
    At most one proposed-or-approved agreement exists per pair (checked under a lock on the
    acceptor's merchant row)."""

    __tablename__ = "card_acceptance_agreements"
    __table_args__ = (
        Index("ix_card_acceptance_agreements_issuer", "issuer_merchant_id", "id"),
        Index("ix_card_acceptance_agreements_acceptor", "acceptor_merchant_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    issuer_merchant_id: Mapped[str] = mapped_column(String(40))
    acceptor_merchant_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    proposed_by: Mapped[str] = mapped_column(String(80))
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardHolderBinding(Base):
    """A merchant's request to bind a card to whoever holds ``phone``, confirmed by the
    holder with the code texted to that phone (kept only as an HMAC bound to this row).
    ``consumer_id`` is set only on confirmation: the request itself never looks the
    phone up, so the merchant learns nothing about whether a consumer has it."""

    __tablename__ = "card_holder_bindings"
    __table_args__ = (
        Index("ix_card_holder_bindings_phone", "phone", "status"),
        Index("ix_card_holder_bindings_card", "card_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    card_id: Mapped[str] = mapped_column(ForeignKey("cards.id"))
    merchant_id: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    failed_attempts: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(80))
    consumer_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
