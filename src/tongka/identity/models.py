"""Identity tables: users, merchants, stores, terminals, consumers, API keys, console sessions.

Secrets are never stored in the clear: passwords as argon2id hashes, API keys and session
tokens as HMAC-SHA256 under derived keys (looked up by that hash), the settlement bank
account number encrypted with AES-GCM. Rows are not deleted: keys are revoked, users and
merchants change status.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import false

from tongka.db.base import Base, UTCDateTime


class PlatformRole(enum.StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    RISK = "risk"
    SUPPORT = "support"


class MerchantRole(enum.StrEnum):
    MERCHANT_ADMIN = "merchant_admin"
    CASHIER = "cashier"


class ApiKeyRole(enum.StrEnum):
    """Merchant keys are ``full`` or ``cashier``; platform keys carry a ``PlatformRole``."""

    FULL = "full"
    CASHIER = "cashier"


class UserKind(enum.StrEnum):
    PLATFORM = "platform"
    MERCHANT = "merchant"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class MerchantStatus(enum.StrEnum):
    PENDING_REVIEW = "pending_review"
    ACTIVE = "active"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class KycLevel(enum.IntEnum):
    """实名认证: what has been verified about a consumer (each level includes the ones below)."""

    NONE = 0
    PHONE = 1
    ID_CARD = 2
    BANK_CARD = 3


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_phone: Mapped[str] = mapped_column(String(32))
    contact_email: Mapped[str] = mapped_column(String(254))
    settlement_bank_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    settlement_account_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # AES-GCM ciphertext bound to the merchant id; only the last four digits are kept clear.
    settlement_account_number_encrypted: Mapped[str | None] = mapped_column(
        String(200), nullable=True
    )
    settlement_account_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    """A person who logs in to the console: a platform operator or a merchant's staff.

    One table for both kinds so an email is unique across the console's single login form.
    """

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_merchant_id", "merchant_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    merchant_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    store_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    # set by an admin's reset (a temporary password): the next login must choose a new one
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    status: Mapped[str] = mapped_column(String(20))
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (Index("ix_stores_merchant_id", "merchant_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500))
    city: Mapped[str] = mapped_column(String(100))
    # Degrees, exact decimals (6 places ~ 0.1 m); a geo point, not money.
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6), nullable=True)
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Terminal(Base):
    """A POS device (终端) at a store; ``device_id`` is the vendor's serial, unique per merchant."""

    __tablename__ = "terminals"
    __table_args__ = (
        UniqueConstraint("merchant_id", "device_id", name="uq_terminals_merchant_device"),
        Index("ix_terminals_store_id", "store_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    store_id: Mapped[str] = mapped_column(String(40))
    device_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Consumer(Base):
    __tablename__ = "consumers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    kyc_level: Mapped[int] = mapped_column(Integer)
    # the name on the identity document checked at KYC level 2 (实名); None: not verified
    verified_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """An API key, stored as an HMAC of the secret (looked up by it) plus a visible prefix."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_merchant_id", "merchant_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    merchant_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    store_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ConsoleSession(Base):
    """A signed-in console browser or consumer app. The cookie (or a consumer's bearer
    token) holds a random token; we keep its HMAC.

    Exactly one of ``user_id`` (staff, password login) and ``consumer_id`` (card holder,
    phone + one-time code) is set: both kinds share expiry, logout and CSRF.
    """

    __tablename__ = "console_sessions"
    __table_args__ = (
        Index("ix_console_sessions_user_id", "user_id"),
        Index("ix_console_sessions_consumer_id", "consumer_id"),
        CheckConstraint(
            "(user_id IS NULL AND consumer_id IS NOT NULL)"
            " OR (user_id IS NOT NULL AND consumer_id IS NULL)",
            name="one_subject",
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    consumer_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginCodeStatus(enum.StrEnum):
    PENDING = "pending"  # may still be verified
    USED = "used"  # verified once: single use
    SUPERSEDED = "superseded"  # a newer code was sent to the same phone
    LOCKED = "locked"  # too many wrong attempts


class ConsumerLoginCode(Base):
    """A one-time sign-in code sent by SMS. Only its keyed hash is kept (bound to the row
    id), so a database dump does not reveal live codes. Rows double as the send log the
    per-phone rate limit counts."""

    __tablename__ = "consumer_login_codes"
    __table_args__ = (Index("ix_consumer_login_codes_phone_created", "phone", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SandboxSmsMessage(Base):
    """A text message the sandbox SMS sender "delivered" (development and test only): the
    developer reads sign-in codes here instead of on a phone. Production never writes it."""

    __tablename__ = "sandbox_sms_messages"
    __table_args__ = (Index("ix_sandbox_sms_messages_phone", "phone"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
