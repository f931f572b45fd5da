"""The ledger accounts payments moves money through.

``channel_receivable_account``: what a channel owes us for payments it took and has not
settled into the reserve bank yet (an asset, one per channel and currency, hot: every paid
order debits it). Cash at a till is owed by the merchant that took it, so the "receivable"
of a cash payment is that merchant's payable (debited: the merchant owes us, settlement
nets it). The ids are stable (``platform:channel_receivable:<channel>:<currency>``) so the
console and ``ledger verify`` find them by prefix.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.errors import InvalidRequest
from tongka.ledger import AccountCode, AccountSpec, AccountType
from tongka.ledger.accounts import load_accounts
from tongka.ledger.system_accounts import PLATFORM_OWNER_TYPE, system_account
from tongka.payments.channel import ChannelName

RECEIVABLE_PREFIX = f"{PLATFORM_OWNER_TYPE}:{AccountCode.CHANNEL_RECEIVABLE.value}:"


def channel_receivable_id(channel: ChannelName | str, currency: str) -> str:
    return f"{RECEIVABLE_PREFIX}{ChannelName(channel).value}:{currency}"


def channel_receivable_spec(channel: ChannelName | str, currency: str) -> AccountSpec:
    return AccountSpec(
        account_id=channel_receivable_id(channel, currency),
        currency=currency,
        type=AccountType.ASSET,
        code=AccountCode.CHANNEL_RECEIVABLE,
        owner_type=PLATFORM_OWNER_TYPE,
        owner_id=ChannelName(channel).value,
        hot=True,
    )


def merchant_payable_id(merchant_id: str, currency: str) -> str:
    # the same id redemption credits (tongka.redemption.fees.merchant_payable_id)
    return f"merchant:{merchant_id}:payable:{currency}"


async def channel_receivable_account(
    session: AsyncSession,
    channel: ChannelName | str,
    currency: str,
    *,
    now: datetime,
    merchant_id: str | None = None,
) -> str:
    """The account a paid payment of ``channel`` debits, opened on first use (idempotent).

    For ``cash`` pass the merchant whose till took it: its payable is debited.
    """
    name = ChannelName(channel)
    if name is ChannelName.CASH:
        if merchant_id is None:
            raise InvalidRequest(
                "a cash payment is owed by the merchant that took it: name the merchant",
                param="merchant_id",
            )
        account_id = merchant_payable_id(merchant_id, currency)
        await _ensure_open(
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
    spec = channel_receivable_spec(name, currency)
    await _ensure_open(session, spec, now=now)
    return spec.account_id


async def _ensure_open(session: AsyncSession, spec: AccountSpec, *, now: datetime) -> None:
    """Open the account unless the ledger's cache already knows it (no statement then)."""
    if spec.account_id not in await load_accounts(session, [spec.account_id], missing_ok=True):
        await ledger.open_account(session, spec, now=now)


async def reserve_bank_account(session: AsyncSession, currency: str, *, now: datetime) -> str:
    return await system_account(session, AccountCode.RESERVE_BANK, currency, now=now)


async def operating_bank_account(session: AsyncSession, currency: str, *, now: datetime) -> str:
    return await system_account(session, AccountCode.OPERATING_BANK, currency, now=now)


async def channel_fee_expense_account(
    session: AsyncSession, currency: str, *, now: datetime
) -> str:
    return await system_account(session, AccountCode.CHANNEL_FEE_EXPENSE, currency, now=now)


async def fee_income_account(session: AsyncSession, currency: str, *, now: datetime) -> str:
    return await system_account(session, AccountCode.FEE_INCOME, currency, now=now)
