"""Factories for the settlement tests: a merchant's contract, the terms it takes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import ensure_merchant
from tongka.config import Settings
from tongka.settlement import contracts
from tongka.settlement.contracts import BankAccount, ContractTerms
from tongka.settlement.fee_terms import FeeKind, FeeTerms
from tongka.settlement.models import MerchantContract

ACCOUNT_NUMBER = "6222020200112233445"


def terms(merchant_id: str, effective_date: date, **overrides: Any) -> ContractTerms:
    base = ContractTerms(
        merchant_id=merchant_id,
        effective_date=effective_date,
        bank_account=BankAccount("中国工商银行上海分行", f"{merchant_id} 有限公司", ACCOUNT_NUMBER),
        fees={
            FeeKind.REDEMPTION_OWN: FeeTerms(Decimal("0.003")),
            FeeKind.REDEMPTION_OTHER_ISSUER: FeeTerms(Decimal("0.01"), minimum=50),
        },
        cycle_days=1,
    )
    return replace(base, **overrides)


async def make_contract(
    session: AsyncSession,
    merchant_id: str,
    effective_date: date,
    *,
    settings: Settings,
    now: datetime,
    **overrides: Any,
) -> MerchantContract:
    await ensure_merchant(session, merchant_id, now)
    return await contracts.create_contract(
        session,
        terms(merchant_id, effective_date, **overrides),
        settings=settings,
        actor="user:ops",
        now=now,
    )
