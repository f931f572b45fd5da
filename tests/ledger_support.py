"""Factories for ledger tests (other parts' tests may use them too)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db import AnyUnitOfWork, Database
from tongka.ledger import (
    AccountCode,
    AccountSpec,
    AccountType,
    Balance,
    TransferRequest,
    get_balance,
    open_account,
    post_transfers,
)
from tongka.ledger.models import LedgerTransfer

FUNDING_ACCOUNT = "funding"


# The three kinds of unit of work the ledger's postings take; the driver needs PostgreSQL.
UNIT_KINDS = ["session", "connection", pytest.param("driver", marks=pytest.mark.pg)]


def unit_of_work(database: Database, kind: str) -> AbstractAsyncContextManager[AnyUnitOfWork]:
    """A transaction of the given kind (see ``UNIT_KINDS``)."""
    opener = {
        "session": database.transaction,
        "connection": database.connection_transaction,
        "driver": database.driver_transaction,
    }[kind]
    return opener()  # type: ignore[return-value]


def card_spec(account_id: str, currency: str = "CNY") -> AccountSpec:
    """A card: a liability that can never go below zero."""
    return AccountSpec(
        account_id=account_id,
        currency=currency,
        type=AccountType.LIABILITY,
        code=AccountCode.CARD,
        debits_must_not_exceed_credits=True,
    )


def merchant_spec(account_id: str, *, hot: bool = False, currency: str = "CNY") -> AccountSpec:
    return AccountSpec(
        account_id=account_id,
        currency=currency,
        type=AccountType.LIABILITY,
        code=AccountCode.MERCHANT_PAYABLE,
        hot=hot,
    )


def funding_spec(account_id: str = FUNDING_ACCOUNT, currency: str = "CNY") -> AccountSpec:
    """An unlimited asset account that money comes from (like a channel receivable)."""
    return AccountSpec(
        account_id=account_id,
        currency=currency,
        type=AccountType.ASSET,
        code=AccountCode.CHANNEL_RECEIVABLE,
    )


def transfer(
    transfer_id: str, debit: str, credit: str, amount: Any, currency: str = "CNY", **extra: Any
) -> TransferRequest:
    return TransferRequest(
        transfer_id=transfer_id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        currency=currency,
        code=extra.pop("code", "test"),
        **extra,
    )


async def open_accounts(database: Database, *specs: AccountSpec, now: datetime) -> None:
    async with database.transaction() as session:
        for spec in specs:
            await open_account(session, spec, now=now)


async def card_and_merchants(database: Database, *, now: datetime) -> None:
    """card-1 holding 1,000; a merchant m; a hot merchant hot."""
    await open_accounts(
        database, card_spec("card-1"), merchant_spec("m"), merchant_spec("hot", hot=True), now=now
    )
    await fund(database, "card-1", 1_000, now=now)


async def fund(
    database: Database, account_id: str, amount: int, *, now: datetime, transfer_id: str = ""
) -> None:
    """Load ``amount`` onto an account from the funding account (opened if needed)."""
    async with database.transaction() as session:
        await open_account(session, funding_spec(), now=now)
        await post_transfers(
            session,
            [
                transfer(
                    transfer_id or f"fund-{account_id}-{amount}",
                    FUNDING_ACCOUNT,
                    account_id,
                    amount,
                )
            ],
            now=now,
        )


async def balance_of(database: Database, account_id: str) -> Balance:
    async with database.transaction() as session:
        return await get_balance(session, account_id)


async def transfer_count(session_or_database: AsyncSession | Database) -> int:
    statement = select(func.count()).select_from(LedgerTransfer)
    if isinstance(session_or_database, Database):
        async with session_or_database.transaction() as session:
            return int(await session.scalar(statement) or 0)
    return int(await session_or_database.scalar(statement) or 0)
