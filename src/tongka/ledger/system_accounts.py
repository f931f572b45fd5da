"""The platform's own accounts, one per purpose and currency, opened on first use.

Other parts ask for them by purpose instead of inventing ids::

    reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.errors import InvalidRequest
from tongka.ledger.accounts import load_accounts, open_account
from tongka.ledger.types import AccountCode, AccountSpec, AccountType

PLATFORM_OWNER_TYPE = "platform"


@dataclass(frozen=True)
class SystemAccountKind:
    type: AccountType
    hot: bool = False
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False


# Income accounts are credited by nearly every redemption: hot. The reserve bank account is
# real money in a bank, so it can never be paid out below zero.
SYSTEM_ACCOUNTS: dict[AccountCode, SystemAccountKind] = {
    AccountCode.RESERVE_BANK: SystemAccountKind(
        AccountType.ASSET, credits_must_not_exceed_debits=True
    ),
    AccountCode.FEE_INCOME: SystemAccountKind(AccountType.INCOME, hot=True),
    AccountCode.BREAKAGE_INCOME: SystemAccountKind(AccountType.INCOME, hot=True),
    AccountCode.OPENING_EQUITY: SystemAccountKind(AccountType.EQUITY),
    AccountCode.SUSPENSE: SystemAccountKind(AccountType.LIABILITY),
    # the platform's own bank account (三分离): fee income reaches it only by an explicit
    # transfer out of the reserve, never by a payment
    AccountCode.OPERATING_BANK: SystemAccountKind(
        AccountType.ASSET, credits_must_not_exceed_debits=True
    ),
    AccountCode.CHANNEL_FEE_EXPENSE: SystemAccountKind(AccountType.EXPENSE, hot=True),
}


def system_account_id(code: AccountCode, currency: str) -> str:
    return f"platform:{code.value}:{currency}"


def system_account_spec(code: AccountCode, currency: str) -> AccountSpec:
    if code not in SYSTEM_ACCOUNTS:
        raise InvalidRequest(
            f"{code} is not a platform account; choose one of {', '.join(sorted(SYSTEM_ACCOUNTS))}",
            code="unknown_system_account",
            param="code",
            details={"account": str(code)},
        )
    kind = SYSTEM_ACCOUNTS[code]
    return AccountSpec(
        account_id=system_account_id(code, currency),
        currency=currency,
        type=kind.type,
        code=code,
        owner_type=PLATFORM_OWNER_TYPE,
        owner_id=None,
        debits_must_not_exceed_credits=kind.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=kind.credits_must_not_exceed_debits,
        hot=kind.hot,
    )


async def system_account(
    session: AsyncSession, code: AccountCode, currency: str, *, now: datetime
) -> str:
    """The id of the platform's ``code`` account in ``currency``, opening it if needed."""
    account_id = system_account_id(code, currency)
    if account_id not in await load_accounts(session, [account_id], missing_ok=True):
        await open_account(session, system_account_spec(code, currency), now=now)
    return account_id
