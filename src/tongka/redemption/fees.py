"""The platform's fee on a redemption, and the accounts a redemption credits.

Until settlement contracts exist, the fee is ``settings.redemption_fee_rate`` (a
``Decimal`` fraction) of the amount taken, rounded once with ``ROUND_HALF_UP`` (the
commercial rule: 0.5 fen → 1 fen). A multi-merchant card credits the *accepting*
merchant's payable (``merchant:<id>:payable:<currency>``, hot: many tills credit it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.ledger import AccountCode, AccountSpec, AccountType
from tongka.ledger.system_accounts import system_account
from tongka.money import Money, Rounding

FEE_ROUNDING = Rounding.HALF_UP


def fee_of(amount: int, currency: str, rate: Decimal) -> int:
    return Money.of_minor(amount, currency).apply_rate(rate, rounding=FEE_ROUNDING).minor_units


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
