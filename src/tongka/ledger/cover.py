"""Does customer money cover what is owed (三分离)? The figures ``ledger verify`` checks and
the reserve page shows.

Customer money is the reserve bank account (备付金) plus what channels owe us for payments
they took and have not settled into it yet (channel receivables). What it must cover: every
card's balance and bonus part, everything owed to merchants, and the promotion budgets
merchants funded. The platform's own money (fee income once moved to the operating bank
account) is not customer money and counts on neither side.

Posted balances on each account's normal side, summed per currency in one query over the
balance shards. A negative merchant payable (cash a merchant's till took for us) counts as
negative: the merchant owes it, settlement nets it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.ledger.models import LedgerAccount, LedgerBalance
from tongka.ledger.types import AccountCode, AccountType

ASSETS = (AccountCode.RESERVE_BANK, AccountCode.CHANNEL_RECEIVABLE)
OWED = (
    AccountCode.CARD,
    AccountCode.CARD_BONUS,
    AccountCode.MERCHANT_PAYABLE,
    AccountCode.PROMOTION_BUDGET,
    AccountCode.RETURN_PAYABLE,
)


@dataclass(frozen=True)
class Cover:
    currency: str
    by_code: dict[str, int] = field(default_factory=dict)

    def amount(self, code: AccountCode | str) -> int:
        return self.by_code.get(str(code), 0)

    @property
    def customer_money(self) -> int:
        return sum(self.amount(code) for code in ASSETS)

    @property
    def owed(self) -> int:
        return sum(self.amount(code) for code in OWED)

    @property
    def surplus(self) -> int:
        return self.customer_money - self.owed

    @property
    def is_covered(self) -> bool:
        return self.surplus >= 0


async def posted_by_code(session: AsyncSession) -> dict[str, dict[str, int]]:
    """currency -> account code -> the summed posted balance on each code's normal side."""
    rows = await session.execute(
        select(
            LedgerAccount.currency,
            LedgerAccount.code,
            LedgerAccount.type,
            func.coalesce(func.sum(LedgerBalance.debits_posted), 0),
            func.coalesce(func.sum(LedgerBalance.credits_posted), 0),
        )
        .join(LedgerBalance, LedgerBalance.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.currency, LedgerAccount.code, LedgerAccount.type)
    )
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for currency, code, account_type, debits, credits in rows:
        debit_normal = AccountType(account_type).is_debit_normal
        totals[currency][code] += (
            int(debits) - int(credits) if debit_normal else int(credits) - int(debits)
        )
    return {currency: dict(codes) for currency, codes in totals.items()}


async def cover_of(session: AsyncSession, currency: str) -> Cover:
    return Cover(currency, (await posted_by_code(session)).get(currency, {}))


async def covers(session: AsyncSession) -> list[Cover]:
    return [
        Cover(currency, codes)
        for currency, codes in sorted((await posted_by_code(session)).items())
    ]
