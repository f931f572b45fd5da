"""Exports for accountants: CSV vouchers and a beancount file that bean-check accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from beancount import loader
from beancount.core import data

from tests.ledger_support import card_spec, fund, merchant_spec, open_accounts, transfer
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import post_pending, post_transfers
from tongka.ledger.export import export_journal

pytestmark = pytest.mark.usefixtures("books_balance")
TIMEZONE = "Asia/Shanghai"


@pytest.fixture
def clock() -> FixedClock:
    # 2026-03-01 23:30 in Shanghai is still 15:30 UTC on the same business date
    return FixedClock(datetime(2026, 3, 1, 15, 30, tzinfo=UTC))


async def _journal(database: Database, clock: FixedClock) -> None:
    await open_accounts(
        database,
        card_spec("card-1"),
        merchant_spec("m:1", hot=True),  # an id beancount cannot use as is
        now=clock.now(),
    )
    await fund(database, "card-1", 10_000, now=clock.now())  # 2026-03-01, before the export
    clock.advance(timedelta(hours=1))  # 2026-03-02 00:30 Shanghai
    async with database.transaction() as session:
        await post_transfers(
            session,
            [transfer("redeem-1", "card-1", "m:1", 1_234, reference="order 7")],
            now=clock.now(),
        )
        await post_transfers(
            session,
            [transfer("auth-1", "card-1", "m:1", 5_000, pending=True)],
            now=clock.now(),
        )
        await post_pending(
            session, transfer_id="capture-1", pending_id="auth-1", amount=4_005, now=clock.now()
        )


async def _export(database: Database, format: str, first: date, last: date) -> str:
    async with database.transaction() as session:
        return await export_journal(session, first, last, format=format, timezone=TIMEZONE)


async def test_csv_vouchers_hold_posted_amounts_on_business_dates(
    database: Database, clock: FixedClock
) -> None:
    await _journal(database, clock)

    content = await _export(database, "csv", date(2026, 3, 2), date(2026, 3, 2))

    assert content.splitlines() == [
        "date,voucher,account,debit,credit,memo",
        "2026-03-02,20260302-00001,card-1,12.34,,test order 7 redeem-1",
        "2026-03-02,20260302-00001,m:1,,12.34,test order 7 redeem-1",
        "2026-03-02,20260302-00002,card-1,40.05,,test capture-1",
        "2026-03-02,20260302-00002,m:1,,40.05,test capture-1",
    ]


async def test_the_beancount_export_passes_bean_check(
    database: Database, clock: FixedClock
) -> None:
    await _journal(database, clock)

    content = await _export(database, "beancount", date(2026, 3, 2), date(2026, 3, 31))
    entries, errors, _options = loader.load_string(content)

    assert errors == []
    balances = {
        entry.account: str(entry.amount) for entry in entries if isinstance(entry, data.Balance)
    }
    # a liability's credit balance is negative in beancount's signs
    assert balances == {
        "Assets:ChannelReceivable:Funding": "100.00 CNY",
        "Liabilities:Card:Card-1": "-47.61 CNY",
        "Liabilities:MerchantPayable:M-1-"
        + content.split("MerchantPayable:M-1-")[1][:6]: "-52.39 CNY",
    }
    opening = [e for e in entries if isinstance(e, data.Transaction) and "Opening" in e.narration]
    assert len(opening) == 1


async def test_an_empty_period_exports_cleanly(database: Database, clock: FixedClock) -> None:
    await _journal(database, clock)
    content = await _export(database, "beancount", date(2027, 1, 1), date(2027, 1, 1))
    _entries, errors, _options = loader.load_string(content)
    assert errors == []
    assert "2027-01-02 balance Liabilities:Card:Card-1  -47.61 CNY" in content
