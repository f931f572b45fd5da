"""Merchant contracts: versioned terms that apply from a date on, never retroactively.

A version holds the fee terms per kind of movement (``fee_terms.FeeKind``), the settlement
cycle (T+0, T+1, T+3 or T+7 over business days), the minimum payout, the rolling reserve
(a percent of each batch's takings held back for N business days) and the settlement bank
account (its name must be the merchant's verified name; the number is sealed with
``tongka.crypto`` bound to the contract id and shown masked). Whether payouts are held
(延迟结算) is not a term: it is ``PayoutHold``, set and lifted at once with a reason.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import business_date
from tongka.config import Settings
from tongka.crypto import decrypt, derive_key, encrypt
from tongka.events import record_event
from tongka.identity.merchants import masked_account_number
from tongka.identity.models import Merchant, MerchantStatus
from tongka.ids import new_id
from tongka.settlement.errors import (
    AccountNameMismatch,
    ContractConflict,
    ContractInvalid,
    ContractRetroactive,
    MerchantNotVerified,
)
from tongka.settlement.fee_terms import FeeKind, FeeTerms, checked_terms, fee_schedule, parse_rate
from tongka.settlement.models import MerchantContract, PayoutHold

CYCLES = (0, 1, 3, 7)
MAX_RESERVE_DAYS = 180
KEY_PURPOSE = "settlement-bank-account"


@dataclass(frozen=True)
class BankAccount:
    bank_name: str
    account_name: str
    account_number: str


@dataclass(frozen=True)
class ContractTerms:
    """What an operator sets for a merchant from ``effective_date`` on."""

    merchant_id: str
    effective_date: date
    bank_account: BankAccount
    fees: Mapping[FeeKind, FeeTerms] = field(default_factory=dict)
    currency: str = "CNY"
    cycle_days: int = 1
    minimum_payout: int = 0
    reserve_percent: Decimal = Decimal(0)
    reserve_days: int = 0


def account_key(settings: Settings) -> bytes:
    return derive_key(settings.secret_key_bytes(), KEY_PURPOSE)


def _check(terms: ContractTerms) -> None:
    if terms.cycle_days not in CYCLES:
        raise ContractInvalid("The cycle is T+0, T+1, T+3 or T+7.", param="cycle_days")
    if type(terms.minimum_payout) is not int or not 0 <= terms.minimum_payout <= 10**10:
        raise ContractInvalid("The minimum payout is whole fen, 0 or more.", param="minimum_payout")
    percent = parse_rate(terms.reserve_percent, param="reserve_percent")
    if percent > 0 and not 1 <= terms.reserve_days <= MAX_RESERVE_DAYS:
        raise ContractInvalid(
            f"A rolling reserve is held 1 to {MAX_RESERVE_DAYS} business days.",
            param="reserve_days",
        )
    number = terms.bank_account.account_number.replace(" ", "")
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise ContractInvalid(
            "A bank account number is 8 to 32 digits.", param="bank_account.account_number"
        )
    if not terms.bank_account.bank_name.strip():
        raise ContractInvalid("Name the bank.", param="bank_account.bank_name")


async def _verified_merchant(session: AsyncSession, merchant_id: str) -> Merchant:
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None or merchant.status != MerchantStatus.ACTIVE:
        raise MerchantNotVerified(
            "Only a verified (active) merchant can have a contract.",
            param="merchant_id",
            details={"merchant_id": merchant_id},
        )
    return merchant


async def latest_version(session: AsyncSession, merchant_id: str) -> MerchantContract | None:
    return await session.scalar(
        select(MerchantContract)
        .where(MerchantContract.merchant_id == merchant_id)
        .order_by(MerchantContract.version.desc())
        .limit(1)
    )


async def create_contract(
    session: AsyncSession,
    terms: ContractTerms,
    *,
    settings: Settings,
    actor: str,
    now: datetime,
) -> MerchantContract:
    """Write the merchant's next contract version (see the module for the rules)."""
    _check(terms)
    fees = {str(kind): checked_terms(str(kind), fee).as_json() for kind, fee in terms.fees.items()}
    merchant = await _verified_merchant(session, terms.merchant_id)
    account = terms.bank_account
    if account.account_name.strip() != merchant.legal_name.strip():
        raise AccountNameMismatch(
            "The settlement account's name must be the merchant's verified name.",
            param="bank_account.account_name",
            details={"verified_name": merchant.legal_name},
        )
    today = business_date(now, settings.timezone)
    latest = await latest_version(session, terms.merchant_id)
    if terms.effective_date < today or (
        latest is not None and terms.effective_date <= latest.effective_date
    ):
        raise ContractRetroactive(
            "A contract version applies from today or later, after the latest version.",
            param="effective_date",
            details={
                "today": today.isoformat(),
                "latest": latest.effective_date.isoformat() if latest else None,
            },
        )
    contract_id = new_id("ctr")
    number = account.account_number.replace(" ", "")
    row = MerchantContract(
        id=contract_id,
        merchant_id=terms.merchant_id,
        version=(latest.version + 1) if latest else 1,
        effective_date=terms.effective_date,
        currency=terms.currency,
        fees=fees,
        cycle_days=terms.cycle_days,
        minimum_payout=terms.minimum_payout,
        reserve_percent=str(terms.reserve_percent),
        reserve_days=terms.reserve_days if terms.reserve_percent > 0 else 0,
        bank_name=account.bank_name.strip(),
        account_name=account.account_name.strip(),
        account_number_encrypted=encrypt(
            account_key(settings), number, associated_data=contract_id
        ),
        account_last4=number[-4:],
        created_by=actor,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise ContractConflict(
            "Another contract version was written at the same time; read and try again.",
            param="effective_date",
        ) from None
    await record_event(
        session,
        type="contract.created",
        object_type="contract",
        object_id=row.id,
        actor=actor,
        now=now,
        merchant_id=row.merchant_id,
        data={"version": row.version, "effective_date": row.effective_date.isoformat()},
    )
    return row


async def contract_on(
    session: AsyncSession, merchant_id: str, day: date
) -> MerchantContract | None:
    """The version in force on ``day``: the latest that started on or before it."""
    return await session.scalar(
        select(MerchantContract)
        .where(MerchantContract.merchant_id == merchant_id, MerchantContract.effective_date <= day)
        .order_by(MerchantContract.effective_date.desc())
        .limit(1)
    )


async def contracts_on(
    session: AsyncSession, merchant_ids: Collection[str], day: date
) -> dict[str, MerchantContract]:
    """``contract_on`` for many merchants in one query (the redemption lane's batch)."""
    if not merchant_ids:
        return {}
    found = await session.scalars(
        select(MerchantContract)
        .where(
            MerchantContract.merchant_id.in_(sorted(merchant_ids)),
            MerchantContract.effective_date <= day,
        )
        .order_by(MerchantContract.effective_date, MerchantContract.version)
    )
    return {contract.merchant_id: contract for contract in found}  # the latest wins


async def list_contracts(session: AsyncSession, merchant_id: str | None) -> list[MerchantContract]:
    query = select(MerchantContract).order_by(
        MerchantContract.merchant_id, MerchantContract.version
    )
    if merchant_id is not None:
        query = query.where(MerchantContract.merchant_id == merchant_id)
    return list((await session.scalars(query)).all())


async def count_contracts(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(MerchantContract)) or 0)


def fees_of(contract: MerchantContract) -> dict[FeeKind, FeeTerms]:
    return fee_schedule(contract.fees)


def fee_for(contract: MerchantContract, kind: FeeKind, amount: int) -> int | None:
    """The contract's fee on ``amount`` of a ``kind`` movement; ``None`` when the contract
    sets no terms for that kind (the platform default applies)."""
    terms = fees_of(contract).get(kind)
    return None if terms is None else terms.fee(amount, contract.currency)


def reserve_percent_of(contract: MerchantContract) -> Decimal:
    return Decimal(contract.reserve_percent)


def masked_account(contract: MerchantContract) -> str:
    return masked_account_number(contract.account_last4) or ""


def reveal_account_number(contract: MerchantContract, settings: Settings) -> str:
    """The clear number, for a payout only (never shown or logged)."""
    return decrypt(
        account_key(settings), contract.account_number_encrypted, associated_data=contract.id
    )


async def set_payout_hold(
    session: AsyncSession,
    merchant_id: str,
    *,
    is_held: bool,
    reason: str,
    actor: str,
    now: datetime,
) -> PayoutHold:
    """Hold (延迟结算) or release a merchant's payouts at once; the reason is required."""
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise ContractInvalid("Give the reason (1 to 500 characters).", param="reason")
    row = await session.get(PayoutHold, merchant_id, with_for_update=True)
    if row is None:
        row = PayoutHold(merchant_id=merchant_id)
        session.add(row)
    row.is_held, row.reason, row.set_by, row.set_at = is_held, reason, actor, now
    await session.flush()
    await record_event(
        session,
        type="payouts.held" if is_held else "payouts.released",
        object_type="merchant",
        object_id=merchant_id,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"reason": reason},
    )
    return row


async def payout_hold(session: AsyncSession, merchant_id: str) -> PayoutHold | None:
    row = await session.get(PayoutHold, merchant_id)
    return row if row is not None and row.is_held else None
