"""Merchants and their onboarding review (入驻审核), settlement bank accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.crypto import decrypt, encrypt
from tongka.errors import InvalidRequest
from tongka.identity.common import (
    check_password_strength,
    flush_unique,
    get_merchant,
    identity_event,
    normalize_email,
)
from tongka.identity.credit_code import credit_code_problem, normalize_credit_code
from tongka.identity.crypto import IdentityKeys
from tongka.identity.errors import (
    AlreadyExists,
    IllegalTransition,
)
from tongka.identity.models import (
    Merchant,
    MerchantRole,
    MerchantStatus,
    User,
)
from tongka.identity.users import create_user, ensure_email_free
from tongka.ids import new_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SettlementAccount:
    bank_name: str
    account_name: str
    account_number: str


@dataclass(frozen=True)
class MerchantRegistration:
    """What a merchant submits to open an account (开户与入驻)."""

    legal_name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    contact_email: str
    admin_email: str
    admin_password: str
    admin_display_name: str | None = None
    settlement_account: SettlementAccount | None = None


def _validated_credit_code(code: str) -> str:
    normalized = normalize_credit_code(code)
    problem = credit_code_problem(normalized)
    if problem:
        raise InvalidRequest(
            f"The unified social credit code {problem}.",
            code="invalid_credit_code",
            param="credit_code",
        )
    return normalized


def _set_settlement_account(
    merchant: Merchant, account: SettlementAccount, keys: IdentityKeys
) -> None:
    number = account.account_number.replace(" ", "")
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise InvalidRequest(
            "A bank account number is 8 to 32 digits.",
            code="invalid_bank_account",
            param="settlement_account.account_number",
        )
    merchant.settlement_bank_name = account.bank_name
    merchant.settlement_account_name = account.account_name
    merchant.settlement_account_number_encrypted = encrypt(
        keys.bank_account, number, associated_data=merchant.id
    )
    merchant.settlement_account_last4 = number[-4:]


def reveal_settlement_account_number(merchant: Merchant, keys: IdentityKeys) -> str | None:
    """The clear account number, for settlement payouts only (never shown or logged)."""
    if merchant.settlement_account_number_encrypted is None:
        return None
    return decrypt(
        keys.bank_account,
        merchant.settlement_account_number_encrypted,
        associated_data=merchant.id,
    )


def masked_account_number(last4: str | None) -> str | None:
    return None if last4 is None else f"**** **** **** {last4}"


async def register_merchant(
    session: AsyncSession,
    keys: IdentityKeys,
    registration: MerchantRegistration,
    *,
    now: datetime,
    actor: str = "public",
) -> tuple[Merchant, User]:
    """Create a merchant pending review and its first ``merchant_admin`` user."""
    credit_code = _validated_credit_code(registration.credit_code)
    check_password_strength(registration.admin_password)
    if await session.scalar(select(Merchant.id).where(Merchant.credit_code == credit_code)):
        raise AlreadyExists(
            "A merchant with this credit code is already registered.",
            details={"object": "merchant"},
            param="credit_code",
        )
    await ensure_email_free(session, normalize_email(registration.admin_email))
    merchant = Merchant(
        id=new_id("mch"),
        legal_name=registration.legal_name.strip(),
        credit_code=credit_code,
        contact_name=registration.contact_name,
        contact_phone=registration.contact_phone,
        contact_email=normalize_email(registration.contact_email),
        status=MerchantStatus.PENDING_REVIEW,
        created_at=now,
        updated_at=now,
    )
    if registration.settlement_account is not None:
        _set_settlement_account(merchant, registration.settlement_account, keys)
    session.add(merchant)
    await flush_unique(session, "merchant", "credit_code")
    await identity_event(
        session,
        "merchant.registered",
        merchant,
        actor=actor,
        now=now,
        merchant_id=merchant.id,
        data={"legal_name": merchant.legal_name, "credit_code": credit_code},
    )
    admin = await create_user(
        session,
        email=registration.admin_email,
        display_name=registration.admin_display_name or registration.contact_name,
        role=MerchantRole.MERCHANT_ADMIN,
        password=registration.admin_password,
        actor=actor,
        now=now,
        merchant_id=merchant.id,
    )
    return merchant, admin


def merchants_query(
    merchant_id: str | None = None, status: MerchantStatus | None = None
) -> Select[Any]:
    statement = select(Merchant)
    if merchant_id is not None:
        statement = statement.where(Merchant.id == merchant_id)
    if status is not None:
        statement = statement.where(Merchant.status == status)
    return statement


# Which review decisions are allowed from which status.
_TRANSITIONS: dict[str, tuple[set[str], MerchantStatus]] = {
    "approve": ({MerchantStatus.PENDING_REVIEW, MerchantStatus.SUSPENDED}, MerchantStatus.ACTIVE),
    "reject": ({MerchantStatus.PENDING_REVIEW}, MerchantStatus.REJECTED),
    "suspend": ({MerchantStatus.ACTIVE}, MerchantStatus.SUSPENDED),
}


def available_decisions(merchant: Merchant) -> list[str]:
    """The review decisions ``merchant``'s status allows (what its page offers)."""
    return [
        decision for decision, (allowed, _) in _TRANSITIONS.items() if merchant.status in allowed
    ]


async def _locked_merchant(session: AsyncSession, merchant_id: str) -> Merchant:
    statement = (
        select(Merchant)
        .where(Merchant.id == merchant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    merchant = (await session.scalars(statement)).one_or_none()
    if merchant is None:
        return await get_merchant(session, merchant_id)  # raises the usual NotFound
    return merchant


_EVENT_OF_DECISION = {"approve": "approved", "reject": "rejected", "suspend": "suspended"}


async def review_merchant(
    session: AsyncSession,
    merchant_id: str,
    decision: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> Merchant:
    """Approve (activates; also lifts a suspension), reject (with a reason) or suspend.

    The merchant row is locked (``FOR UPDATE``; SQLite has one writer anyway) before its
    status is checked, so of two concurrent reviews the second sees the first's result and
    is refused as an illegal transition instead of applying too.
    """
    allowed_from, target = _TRANSITIONS[decision]
    merchant = await _locked_merchant(session, merchant_id)
    if merchant.status not in allowed_from:
        raise IllegalTransition(
            f"Cannot {decision} a merchant that is {merchant.status}.",
            param="status",
            details={"decision": decision, "status": merchant.status},
        )
    if decision == "reject" and not (reason and reason.strip()):
        raise InvalidRequest(
            "A rejection needs a reason.", code="rejection_reason_required", param="reason"
        )
    previous = merchant.status
    merchant.status = target
    merchant.reviewed_by = actor
    merchant.reviewed_at = now
    merchant.rejection_reason = reason if decision == "reject" else None
    merchant.updated_at = now
    await session.flush()
    await identity_event(
        session,
        f"merchant.{_EVENT_OF_DECISION[decision]}",
        merchant,
        actor=actor,
        now=now,
        merchant_id=merchant.id,
        data={"previous_status": previous, "status": target, "reason": reason},
    )
    return merchant


@dataclass(frozen=True)
class MerchantCorrections:
    """A rejected applicant's corrected application: the company's details as they should
    read now (every field; the form comes prefilled) and, optionally, a new settlement
    account (None keeps the one on file)."""

    legal_name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    contact_email: str
    settlement_account: SettlementAccount | None = None


CORRECTABLE_FIELDS = ("legal_name", "credit_code", "contact_name", "contact_phone", "contact_email")


async def _corrected_values(
    session: AsyncSession, merchant: Merchant, corrections: MerchantCorrections
) -> dict[str, str]:
    values = {
        "legal_name": corrections.legal_name.strip(),
        "credit_code": _validated_credit_code(corrections.credit_code),
        "contact_name": corrections.contact_name.strip(),
        "contact_phone": corrections.contact_phone.strip(),
        "contact_email": normalize_email(corrections.contact_email),
    }
    for name in ("legal_name", "contact_name", "contact_phone"):
        if not values[name]:
            raise InvalidRequest("This field is required.", code="field_required", param=name)
    taken = await session.scalar(
        select(Merchant.id).where(
            Merchant.credit_code == values["credit_code"], Merchant.id != merchant.id
        )
    )
    if taken:
        raise AlreadyExists(
            "A merchant with this credit code is already registered.", param="credit_code"
        )
    return values


async def resubmit_merchant(
    session: AsyncSession,
    keys: IdentityKeys,
    merchant_id: str,
    corrections: MerchantCorrections,
    *,
    actor: str,
    now: datetime,
) -> Merchant:
    """A rejected merchant corrects its application and sends it back for review.

    Only from ``rejected`` (locked first, like ``review_merchant``), back to
    ``pending_review``. The rejection reason stays on the row until the next decision, so
    the reviewer sees what was asked for; the event records which fields changed (old and
    new values, never the bank account number)."""
    merchant = await _locked_merchant(session, merchant_id)
    if merchant.status != MerchantStatus.REJECTED:
        raise IllegalTransition(
            f"Only a rejected application can be resubmitted; this one is {merchant.status}.",
            param="status",
        )
    values = await _corrected_values(session, merchant, corrections)
    changes = {
        name: {"before": getattr(merchant, name), "after": value}
        for name, value in values.items()
        if getattr(merchant, name) != value
    }
    for name, value in values.items():
        setattr(merchant, name, value)
    if corrections.settlement_account is not None:
        _set_settlement_account(merchant, corrections.settlement_account, keys)
        changes["settlement_account"] = {"last4": merchant.settlement_account_last4}
    merchant.status = MerchantStatus.PENDING_REVIEW
    merchant.updated_at = now
    await flush_unique(session, "merchant", "credit_code")
    await identity_event(
        session,
        "merchant.resubmitted",
        merchant,
        actor=actor,
        now=now,
        merchant_id=merchant.id,
        data={
            "previous_status": MerchantStatus.REJECTED,
            "status": MerchantStatus.PENDING_REVIEW,
            "answering": merchant.rejection_reason,
            "changes": changes,
        },
    )
    return merchant
