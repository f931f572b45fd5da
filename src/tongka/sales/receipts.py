"""Receipts (电子回单): issued once per paid order (and once per refund), signed, checkable.

A receipt is the platform's statement that an order was paid (or refunded): who sold, what,
for how much, through which channel, and when. Three properties make it worth showing:

* **Once per order.** ``issue_receipt`` is idempotent on the order (a refund receipt: on the
  order and the refund's id). A second call — a duplicated notification, a retried job —
  returns the first receipt unchanged, even when the facts it is given differ (a receipt,
  once issued, is never re-issued; the difference is logged).
* **A code nobody can guess.** ``code`` is 20 random characters of Crockford's base32
  (100 bits), printed in groups of four (``7QKM-3XZD-…``). Knowing it is what lets anyone
  see the receipt through the public check (``GET /v1/receipts/{code}``, the console's
  回单查验), so it is random, never derived from the order. Typed codes are read leniently
  (case, spaces, ``O``/``I``/``L`` for ``0``/``1``).
* **Tampering shows.** The facts are stored as one canonical JSON text with an HMAC-SHA256
  over it, under a key derived from the platform's root secret (``tongka.crypto``,
  purpose ``receipts-signature``; the database holds no key). ``verify_receipt`` recomputes
  it and checks that the searchable columns still agree with the signed text; the public
  check refuses (``receipt_not_verified``) a receipt that fails, instead of showing it.

Receipts hold masked data only: the buyer's display name and the payer's account arrive
masked, and are masked again here if they still contain a long run of digits.
A refund receipt names the order's payment receipt (``original_receipt_id``); the refunds
of an order never add up to more than its payment receipt's amount.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from hashlib import sha256
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.config import Settings
from tongka.crypto import derive_key
from tongka.errors import BusinessRuleViolation, Conflict, InvalidRequest, NotFound
from tongka.events import record_event
from tongka.ids import new_id
from tongka.money import get_currency
from tongka.sales.receipt_models import Receipt

__all__ = [
    "CheckedReceipt",
    "Receipt",
    "ReceiptFacts",
    "ReceiptKind",
    "ReceiptLine",
    "check_receipt",
    "issue_receipt",
    "normalise_code",
    "receipt_facts",
    "receipt_for_order",
    "verify_receipt",
]

log = structlog.get_logger(__name__)

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 20  # 100 random bits
CODE_GROUP = 4
SIGNATURE_VERSION = "v1"
KEY_PURPOSE = "receipts-signature"
_TYPED_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_LONG_DIGITS = re.compile(r"\d{7,}")


class ReceiptKind(StrEnum):
    PURCHASE = "purchase"
    TOP_UP = "top_up"
    ENTERPRISE_BATCH = "enterprise_batch"
    REFUND = "refund"


class ReceiptInvalid(InvalidRequest):
    code = "receipt_invalid"


class ReceiptNotFound(NotFound):
    code = "receipt_not_found"


class ReceiptNotVerified(Conflict):
    code = "receipt_not_verified"


class ReceiptOriginalMissing(BusinessRuleViolation):
    code = "receipt_original_missing"


class ReceiptRefundExceedsOriginal(BusinessRuleViolation):
    code = "receipt_refund_exceeds_original"


@dataclass(frozen=True)
class ReceiptLine:
    """A line: ``count`` cards (or one top-up) of ``face_value_minor``; ``amount_minor`` in all."""

    product_name: str
    face_value_minor: int
    count: int
    amount_minor: int


@dataclass(frozen=True)
class ReceiptFacts:
    """What a receipt states. Amounts are minor units of ``currency``; ``amount_minor`` is
    what the payer paid (or got back: a refund), the sum of the lines; ``bonus_minor`` the
    bonus loaded on top (never paid, never refunded). ``buyer_display`` and
    ``payer_account_masked`` are for showing to anyone holding the code: masked."""

    order_id: str
    merchant_id: str
    merchant_name: str
    buyer_display: str
    kind: ReceiptKind
    lines: tuple[ReceiptLine, ...]
    amount_minor: int
    currency: str
    channel: str
    paid_at: datetime
    bonus_minor: int = 0
    channel_transaction_id: str | None = None
    payer_account_masked: str | None = None
    refund_id: str | None = None  # a refund receipt's refund (several refunds per order)


@dataclass(frozen=True)
class CheckedReceipt:
    """A receipt found by its code whose signature verified."""

    receipt: Receipt
    facts: ReceiptFacts
    original_code: str | None = None


# --- codes ---------------------------------------------------------------------------------


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return _grouped(raw)


def _grouped(raw: str) -> str:
    return "-".join(raw[index : index + CODE_GROUP] for index in range(0, len(raw), CODE_GROUP))


def normalise_code(typed: str) -> str | None:
    """The stored form of a typed code, or None if it cannot be one (never an error: an
    ill-formed code and an unknown one get the same answer)."""
    raw = re.sub(r"[\s\-]", "", typed).upper().translate(_TYPED_ALIASES)
    if len(raw) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in raw):
        return None
    return _grouped(raw)


# --- masking and validation ----------------------------------------------------------------


def _masked(text: str | None) -> str | None:
    """``text`` with every run of 7+ digits masked but its first 3 and last 4 (defence in
    depth: callers pass masked values, but a receipt must never carry a full number)."""
    if text is None:
        return None
    return _LONG_DIGITS.sub(lambda match: _mask_digits(match.group(0)), text)


def _mask_digits(digits: str) -> str:
    keep_start = 3 if len(digits) >= 11 else 0
    return digits[:keep_start] + "*" * (len(digits) - keep_start - 4) + digits[-4:]


def _require_minor(value: object, param: str, *, positive: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < (1 if positive else 0):
        raise ReceiptInvalid(
            f"{param} must be a {'positive' if positive else 'non-negative'} integer "
            "(minor units).",
            param=param,
        )
    return value


def _checked(facts: ReceiptFacts) -> ReceiptFacts:
    """The facts, masked, or ``ReceiptInvalid`` naming the field that is wrong."""
    get_currency(facts.currency)
    try:
        kind = ReceiptKind(facts.kind)
    except ValueError:
        raise ReceiptInvalid(f"{facts.kind!r} is not a kind of receipt.", param="kind") from None
    _require_minor(facts.amount_minor, "amount_minor", positive=True)
    _require_minor(facts.bonus_minor, "bonus_minor")
    if facts.paid_at.tzinfo is None:
        raise ReceiptInvalid("paid_at must be timezone-aware.", param="paid_at")
    for name in ("order_id", "merchant_id", "merchant_name", "channel"):
        if not str(getattr(facts, name) or "").strip():
            raise ReceiptInvalid(f"{name} is required.", param=name)
    if kind is ReceiptKind.REFUND and not facts.refund_id:
        raise ReceiptInvalid("A refund receipt needs the refund's id.", param="refund_id")
    if kind is not ReceiptKind.REFUND and facts.refund_id:
        raise ReceiptInvalid("Only a refund receipt names a refund.", param="refund_id")
    if not facts.lines:
        raise ReceiptInvalid("A receipt has at least one line.", param="lines")
    for index, line in enumerate(facts.lines):
        _require_minor(line.face_value_minor, f"lines[{index}].face_value_minor")
        _require_minor(line.count, f"lines[{index}].count", positive=True)
        _require_minor(line.amount_minor, f"lines[{index}].amount_minor")
    if sum(line.amount_minor for line in facts.lines) != facts.amount_minor:
        raise ReceiptInvalid("The lines must add up to the amount.", param="lines")
    return ReceiptFacts(
        **{
            **facts.__dict__,
            "kind": kind,
            "lines": tuple(facts.lines),
            "buyer_display": _masked(facts.buyer_display) or "",
            "payer_account_masked": _masked(facts.payer_account_masked),
            "paid_at": ensure_utc(facts.paid_at),
        }
    )


# --- the signed content --------------------------------------------------------------------


def _signing_key(settings: Settings) -> bytes:
    return derive_key(settings.secret_key_bytes(), KEY_PURPOSE)


def sign(content: str, settings: Settings) -> str:
    digest = hmac.new(_signing_key(settings), content.encode(), sha256).hexdigest()
    return f"{SIGNATURE_VERSION}:{digest}"


def canonical_content(document: dict[str, Any]) -> str:
    """One text for one document: sorted keys, no spaces, UTF-8 kept (what is signed)."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _document(
    facts: ReceiptFacts,
    *,
    receipt_id: str,
    code: str,
    original: Receipt | None,
    issued_at: datetime,
) -> dict[str, Any]:
    return {
        "version": 1,
        "id": receipt_id,
        "code": code,
        "order_id": facts.order_id,
        "merchant_id": facts.merchant_id,
        "merchant_name": facts.merchant_name,
        "buyer_display": facts.buyer_display,
        "kind": facts.kind.value,
        "lines": [line.__dict__ for line in facts.lines],
        "amount_minor": facts.amount_minor,
        "bonus_minor": facts.bonus_minor,
        "currency": facts.currency,
        "channel": facts.channel,
        "channel_transaction_id": facts.channel_transaction_id,
        "payer_account_masked": facts.payer_account_masked,
        "paid_at": facts.paid_at.isoformat(),
        "refund_id": facts.refund_id,
        "original_receipt_id": original.id if original else None,
        "original_code": original.code if original else None,
        "issued_at": ensure_utc(issued_at).isoformat(),
    }


def _content_of(receipt: Receipt) -> dict[str, Any]:
    document = json.loads(receipt.content)
    assert isinstance(document, dict)
    return document


def receipt_facts(receipt: Receipt) -> ReceiptFacts:
    """The facts a receipt states, read from its signed content."""
    document = _content_of(receipt)
    return ReceiptFacts(
        order_id=document["order_id"],
        merchant_id=document["merchant_id"],
        merchant_name=document["merchant_name"],
        buyer_display=document["buyer_display"],
        kind=ReceiptKind(document["kind"]),
        lines=tuple(ReceiptLine(**line) for line in document["lines"]),
        amount_minor=document["amount_minor"],
        bonus_minor=document["bonus_minor"],
        currency=document["currency"],
        channel=document["channel"],
        channel_transaction_id=document["channel_transaction_id"],
        payer_account_masked=document["payer_account_masked"],
        paid_at=datetime.fromisoformat(document["paid_at"]),
        refund_id=document["refund_id"],
    )


def verify_receipt(receipt: Receipt, *, settings: Settings) -> bool:
    """Whether the stored receipt is exactly what was issued: its HMAC verifies and the
    columns beside the content say what the content says."""
    if not hmac.compare_digest(sign(receipt.content, settings), receipt.signature):
        return False
    try:
        document = _content_of(receipt)
        issued_at = datetime.fromisoformat(document["issued_at"])
    except (ValueError, KeyError, AssertionError):
        return False
    columns = {
        "id": receipt.id,
        "code": receipt.code,
        "order_id": receipt.order_id,
        "merchant_id": receipt.merchant_id,
        "kind": receipt.kind,
        "amount_minor": receipt.amount_minor,
        "currency": receipt.currency,
        "original_receipt_id": receipt.original_receipt_id,
    }
    return all(document.get(name) == value for name, value in columns.items()) and (
        issued_at == ensure_utc(receipt.issued_at)
    )


# --- issuing -------------------------------------------------------------------------------


def _issue_key(facts: ReceiptFacts) -> str:
    if facts.kind == ReceiptKind.REFUND:
        return f"{facts.order_id}/refund/{facts.refund_id}"
    return facts.order_id


async def _by_issue_key(session: AsyncSession, issue_key: str) -> Receipt | None:
    statement = select(Receipt).where(Receipt.issue_key == issue_key)
    return (await session.execute(statement)).scalar_one_or_none()


async def receipt_for_order(session: AsyncSession, order_id: str) -> Receipt | None:
    """The order's payment receipt (not its refunds'), if one was issued."""
    return await _by_issue_key(session, order_id)


async def _original_for_refund(session: AsyncSession, facts: ReceiptFacts) -> Receipt:
    original = await receipt_for_order(session, facts.order_id)
    if original is None:
        raise ReceiptOriginalMissing(
            f"Order {facts.order_id} has no payment receipt for this refund to refer to.",
            param="order_id",
            details={"object": "receipt", "order_id": facts.order_id},
        )
    if original.currency != facts.currency:
        raise ReceiptInvalid("A refund is in its order's currency.", param="currency")
    refunded = await session.scalar(
        select(func.coalesce(func.sum(Receipt.amount_minor), 0)).where(
            Receipt.order_id == facts.order_id, Receipt.kind == ReceiptKind.REFUND.value
        )
    )
    if int(refunded or 0) + facts.amount_minor > original.amount_minor:
        raise ReceiptRefundExceedsOriginal(
            "The order's refunds would add up to more than it was paid.",
            param="amount_minor",
            details={
                "paid": {"amount": original.amount_minor, "currency": original.currency},
                "refunded": {"amount": int(refunded or 0), "currency": original.currency},
            },
        )
    return original


async def issue_receipt(
    session: AsyncSession, facts: ReceiptFacts, *, now: datetime, settings: Settings
) -> Receipt:
    """The order's receipt (a refund receipt: the refund's), issued now unless it exists.

    Runs in the caller's transaction (the order's ``paid`` step), never commits. Two
    concurrent first calls end with one receipt: the insert does nothing on the unique
    ``issue_key`` and both read the row that won. Raises ``ReceiptInvalid`` for facts that
    cannot be a receipt, ``ReceiptOriginalMissing`` / ``ReceiptRefundExceedsOriginal`` for a
    refund without a payment receipt or beyond it.
    """
    issue_key = _issue_key(facts)
    existing = await _by_issue_key(session, issue_key)
    if existing is not None:
        return _first_answer(existing, facts)
    facts = _checked(facts)
    original = (
        await _original_for_refund(session, facts) if facts.kind is ReceiptKind.REFUND else None
    )
    receipt_id, code = new_id("rcpt"), new_code()
    content = canonical_content(
        _document(facts, receipt_id=receipt_id, code=code, original=original, issued_at=now)
    )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # RETURNING the row: ours when the insert took, none when a concurrent call won
    inserted: Receipt | None = await session.scalar(
        dialect.insert(Receipt)
        .values(
            id=receipt_id,
            code=code,
            issue_key=issue_key,
            order_id=facts.order_id,
            merchant_id=facts.merchant_id,
            kind=facts.kind.value,
            amount_minor=facts.amount_minor,
            currency=facts.currency,
            original_receipt_id=original.id if original else None,
            content=content,
            signature=sign(content, settings),
            issued_at=now,
        )
        .on_conflict_do_nothing(index_elements=["issue_key"])
        .returning(Receipt)
    )
    receipt = inserted if inserted is not None else await _by_issue_key(session, issue_key)
    assert receipt is not None
    if receipt.id != receipt_id:  # a concurrent call issued it first
        return _first_answer(receipt, facts)
    await record_event(
        session,
        type="receipt.issued",
        object_type="receipt",
        object_id=receipt.id,
        actor="system",
        now=now,
        merchant_id=facts.merchant_id,
        data={
            "order_id": facts.order_id,
            "kind": facts.kind.value,
            "code": code,
            "amount": {"amount": facts.amount_minor, "currency": facts.currency},
            "original_receipt_id": receipt.original_receipt_id,
        },
    )
    return receipt


def _first_answer(receipt: Receipt, facts: ReceiptFacts) -> Receipt:
    stated = receipt_facts(receipt)
    if (stated.amount_minor, stated.currency, stated.kind) != (
        facts.amount_minor,
        facts.currency,
        facts.kind,
    ):
        log.warning(
            "receipt.reissue_differs",
            receipt_id=receipt.id,
            order_id=receipt.order_id,
            issued_amount=stated.amount_minor,
            asked_amount=facts.amount_minor,
        )
    return receipt


# --- the public check ----------------------------------------------------------------------


async def check_receipt(
    session: AsyncSession, typed_code: str, *, settings: Settings
) -> CheckedReceipt:
    """The receipt with this code, verified; ``ReceiptNotFound`` for an unknown or
    ill-formed code (the same answer), ``ReceiptNotVerified`` if its content was altered."""
    code = normalise_code(typed_code)
    receipt = None
    if code is not None:
        statement = select(Receipt).where(Receipt.code == code)
        receipt = (await session.execute(statement)).scalar_one_or_none()
    if receipt is None:
        raise ReceiptNotFound(
            "No receipt has this verification code.", details={"object": "receipt"}
        )
    if not verify_receipt(receipt, settings=settings):
        log.error("receipt.verification_failed", receipt_id=receipt.id)
        raise ReceiptNotVerified(
            "This receipt does not verify: its stored content has changed since it was "
            "issued. Do not rely on it; contact the platform.",
            details={"object": "receipt"},
        )
    document = _content_of(receipt)
    return CheckedReceipt(
        receipt=receipt, facts=receipt_facts(receipt), original_code=document["original_code"]
    )
