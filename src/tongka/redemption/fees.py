"""The platform's fee on a redemption, and the accounts a redemption credits.

The accepting merchant's contract (``tongka.settlement.contracts``, the version in force
on the business date) sets the fee: its ``redemption_own`` terms for the merchant's own
cards, ``redemption_other_issuer`` for another issuer's card (rate, minimum, fixed part,
named rounding). Without a contract, or without terms for that kind, the platform default
applies: ``settings.redemption_fee_rate`` (a ``Decimal`` fraction) of the amount taken,
rounded once with ``ROUND_HALF_UP`` (the commercial rule: 0.5 fen → 1 fen).
``redemption_fees`` looks the contract up once per request; ``fee_of`` takes either a plain
rate or what it found. A multi-merchant card credits the *accepting* merchant's payable
(``merchant:<id>:payable:<currency>``, hot: many tills credit it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.clock import business_date
from tongka.ledger import AccountCode, AccountSpec, AccountType
from tongka.ledger.system_accounts import system_account
from tongka.money import Money, Rounding
from tongka.settlement.contracts import contract_on, contracts_on, fees_of
from tongka.settlement.fee_terms import FeeKind, FeeTerms
from tongka.settlement.models import MerchantContract

FEE_ROUNDING = Rounding.HALF_UP


@dataclass(frozen=True)
class ContractFees:
    """The accepting merchant's contract terms for redemptions (``None``: the default)."""

    merchant_id: str
    default_rate: Decimal
    own: FeeTerms | None
    other_issuer: FeeTerms | None


FeeRate = Decimal | ContractFees


def fee_of(
    amount: int, currency: str, rate: FeeRate, *, issuer_merchant_id: str | None = None
) -> int:
    """The fee on ``amount``: a plain rate, or the contract's terms. A card issued by
    another merchant than the acceptor (``issuer_merchant_id``) takes the contract's
    other-issuer terms; without the issuer, the own-store terms apply."""
    if isinstance(rate, ContractFees):
        is_other = issuer_merchant_id is not None and issuer_merchant_id != rate.merchant_id
        terms = rate.other_issuer if is_other else rate.own
        if terms is not None:
            return terms.fee(amount, currency)
        rate = rate.default_rate
    return Money.of_minor(amount, currency).apply_rate(rate, rounding=FEE_ROUNDING).minor_units


async def redemption_fees(
    session: AsyncSession,
    merchant_id: str,
    *,
    default_rate: Decimal,
    timezone: str,
    now: datetime,
    issuer_merchant_id: str | None = None,
) -> FeeRate:
    """What ``fee_of`` charges at ``merchant_id`` today: its contract's terms, else the
    platform's default rate. With ``issuer_merchant_id`` (one known card, e.g. a capture)
    the answer is already the terms for that card, whoever asks ``fee_of``."""
    contract = await contract_on(session, merchant_id, business_date(now, timezone))
    return _fee_rate(contract, merchant_id, default_rate, issuer_merchant_id)


async def redemption_fees_of_merchants(
    session: AsyncSession,
    merchant_ids: Collection[str],
    *,
    default_rate: Decimal,
    timezone: str,
    now: datetime,
) -> dict[str, FeeRate]:
    """``redemption_fees`` of many accepting merchants in one query (the lane's batch)."""
    contracts = await contracts_on(session, merchant_ids, business_date(now, timezone))
    return {
        merchant_id: _fee_rate(contracts.get(merchant_id), merchant_id, default_rate, None)
        for merchant_id in merchant_ids
    }


def _fee_rate(
    contract: MerchantContract | None,
    merchant_id: str,
    default_rate: Decimal,
    issuer_merchant_id: str | None,
) -> FeeRate:
    if contract is None:
        return default_rate
    terms = fees_of(contract)
    own, other = terms.get(FeeKind.REDEMPTION_OWN), terms.get(FeeKind.REDEMPTION_OTHER_ISSUER)
    if issuer_merchant_id is not None and issuer_merchant_id != merchant_id:
        own = other
    return ContractFees(merchant_id, default_rate, own=own, other_issuer=other)


def merchant_payable_id(merchant_id: str, currency: str) -> str:
    return f"merchant:{merchant_id}:payable:{currency}"


async def merchant_payable_account(
    session: AsyncSession, merchant_id: str, currency: str, *, now: datetime
) -> str:
    """The accepting merchant's payable, opened on first use (idempotent)."""
    account_id = merchant_payable_id(merchant_id, currency)
    await ledger.open_account(
        session,
        AccountSpec(
            account_id=account_id,
            currency=currency,
            type=AccountType.LIABILITY,
            code=AccountCode.MERCHANT_PAYABLE,
            owner_type="merchant",
            owner_id=merchant_id,
            hot=True,
        ),
        now=now,
    )
    return account_id


async def fee_income_account(session: AsyncSession, currency: str, *, now: datetime) -> str:
    return await system_account(session, AccountCode.FEE_INCOME, currency, now=now)
