"""Sealing and ``verify``: tampering with the journal or the balances is caught and named."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from tests.conftest import check_books_if_touched
from tests.ledger_support import (
    card_and_merchants,
    card_spec,
    fund,
    merchant_spec,
    open_accounts,
    transfer,
)
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import post_transfers
from tongka.ledger.models import LedgerBalance, LedgerBlock, LedgerBlockEntry
from tongka.ledger.sealing import seal_pending_blocks
from tongka.ledger.verify import VerifyReport, check_all_sealed, verify_ledger


async def _books(database: Database, clock: FixedClock) -> None:
    """A small ledger: two funded cards, three redemptions."""
    await open_accounts(
        database,
        card_spec("card-1"),
        card_spec("card-2"),
        merchant_spec("m", hot=True),
        now=clock.now(),
    )
    await fund(database, "card-1", 1_000, now=clock.now())
    await fund(database, "card-2", 500, now=clock.now())
    async with database.transaction() as session:
        for number, card in enumerate(["card-1", "card-2", "card-1"]):
            await post_transfers(
                session, [transfer(f"redeem-{number}", card, "m", 100 + number)], now=clock.now()
            )


async def _verify(database: Database, clock: FixedClock) -> VerifyReport:
    async with database.transaction() as session:
        return await verify_ledger(session, clock.now())


async def _tamper(database: Database, *statements: str) -> None:
    """Change the tables behind the ledger's back, as an attacker with SQL access would."""
    async with database.transaction() as session:
        for statement in statements:
            await session.execute(text(statement))


def _failed(report: VerifyReport) -> dict[str, str]:
    return {check.name: check.details for check in report.failures}


async def test_sealing_puts_each_committed_transfer_in_exactly_one_block(
    database: Database, clock: FixedClock
) -> None:
    await _books(database, clock)
    async with database.transaction() as session:
        assert await seal_pending_blocks(session, clock.now()) == 5
        assert await seal_pending_blocks(session, clock.now()) == 0
    async with database.transaction() as session:
        await post_transfers(session, [transfer("late", "card-2", "m", 1)], now=clock.now())
        assert await seal_pending_blocks(session, clock.now()) == 1
        blocks = (
            await session.execute(select(LedgerBlock.number, LedgerBlock.transfer_count))
        ).all()
        entries = await session.scalar(select(func.count()).select_from(LedgerBlockEntry))
    assert [tuple(block) for block in blocks] == [(1, 5), (2, 1)]
    assert entries == 6


async def test_verify_passes_on_honest_books_and_reports_every_check(
    database: Database, clock: FixedClock
) -> None:
    await _books(database, clock)
    report = await _verify(database, clock)
    assert report.ok, report.failures
    assert [check.name for check in report.checks] == [
        "seal committed transfers",
        "debits equal credits per currency",
        "stored balances equal the sum of transfers",
        "no account crosses its limit",
        "transfers join existing accounts of their currency",
        "customer money covers what is owed",
        "hash chain recomputes",
        "every settled transfer is sealed",
    ]


async def test_verify_catches_an_edited_amount_in_a_sealed_transfer(
    database: Database, clock: FixedClock
) -> None:
    await _books(database, clock)
    assert (await _verify(database, clock)).ok
    await _tamper(  # the attacker also fixes the balances, so only the seal can tell
        database,
        "UPDATE ledger_transfers SET amount = 1 WHERE id = 'redeem-0'",
        "UPDATE ledger_balances SET debits_posted = debits_posted - 99 WHERE account_id = 'card-1'",
        "UPDATE ledger_balances SET credits_posted = credits_posted - 99 "
        "WHERE account_id = 'm' AND credits_posted >= 100",
    )

    failed = _failed(await _verify(database, clock))

    assert "hash chain recomputes" in failed
    assert "block 1: hash does not match" in failed["hash chain recomputes"]


@pytest.mark.tampers_with_books
async def test_verify_catches_a_deleted_transfer(database: Database, clock: FixedClock) -> None:
    await _books(database, clock)
    assert (await _verify(database, clock)).ok
    await _tamper(database, "DELETE FROM ledger_transfers WHERE id = 'redeem-1'")

    failed = _failed(await _verify(database, clock))

    assert "which is gone" in failed["hash chain recomputes"]
    assert "card-2" in failed["stored balances equal the sum of transfers"]


async def test_verify_catches_an_inserted_transfer(database: Database, clock: FixedClock) -> None:
    await _books(database, clock)
    assert (await _verify(database, clock)).ok
    clock.advance(timedelta(hours=1))
    await _tamper(  # slipped in below the sealed sequence numbers, balances made to match
        database,
        "INSERT INTO ledger_transfers (sequence, id, kind, debit_account_id, credit_account_id,"
        " amount, currency, code, metadata, created_at) VALUES (-1, 'forged', 'single',"
        " 'funding', 'card-2', 1000, 'CNY', 'test', '{}', '2025-12-31 00:00:00+00')",
        "UPDATE ledger_balances SET debits_posted = debits_posted + 1000 "
        "WHERE account_id = 'funding'",
        "UPDATE ledger_balances SET credits_posted = credits_posted + 1000 "
        "WHERE account_id = 'card-2'",
    )

    failed = _failed(await _verify(database, clock))

    assert list(failed) == ["hash chain recomputes"]
    assert "sealed transfer #-1 long after block 1" in failed["hash chain recomputes"]


@pytest.mark.tampers_with_books
async def test_verify_catches_a_tampered_balance_row(database: Database, clock: FixedClock) -> None:
    await _books(database, clock)
    await _tamper(
        database,
        "UPDATE ledger_balances SET credits_posted = credits_posted + 5000 "
        "WHERE account_id = 'card-2'",
    )

    failed = _failed(await _verify(database, clock))

    assert set(failed) == {
        "debits equal credits per currency",
        "stored balances equal the sum of transfers",
        "customer money covers what is owed",  # the forged 5000 on the card is not covered
    }
    assert "card-2" in failed["stored balances equal the sum of transfers"]


@pytest.mark.tampers_with_books
async def test_verify_reports_a_crossed_limit(database: Database, clock: FixedClock) -> None:
    await _books(database, clock)
    await _tamper(  # a forged overdraft, consistent everywhere except the card's limit
        database,
        "UPDATE ledger_balances SET debits_posted = debits_posted + 5000 "
        "WHERE account_id = 'card-2'",
        "UPDATE ledger_balances SET credits_posted = credits_posted + 5000 "
        "WHERE account_id = 'funding'",
    )

    failed = _failed(await _verify(database, clock))

    assert "card-2: debits" in failed["no account crosses its limit"]


async def test_verify_flags_transfers_left_unsealed(database: Database, clock: FixedClock) -> None:
    await _books(database, clock)
    assert (await _verify(database, clock)).ok
    async with database.transaction() as session:
        await session.execute(text("DELETE FROM ledger_block_entries WHERE transfer_sequence = 2"))
        report = VerifyReport()
        await check_all_sealed(session, report, clock.now() + timedelta(minutes=1))
    assert _failed(report) == {
        "every settled transfer is sealed": "1 problem(s): transfer #2 is not in any block"
    }


async def test_verify_catches_a_deleted_block(database: Database, clock: FixedClock) -> None:
    await _books(database, clock)
    assert (await _verify(database, clock)).ok
    async with database.transaction() as session:
        await post_transfers(session, [transfer("later", "card-2", "m", 1)], now=clock.now())
    assert (await _verify(database, clock)).ok
    await _tamper(database, "DELETE FROM ledger_blocks WHERE number = 1")

    failed = _failed(await _verify(database, clock))

    assert "entries name block 1, which does not exist" in failed["hash chain recomputes"]
    assert "block 1 is missing (found 2)" in failed["hash chain recomputes"]


async def test_the_books_check_after_every_test_fails_on_broken_books(
    database: Database, clock: FixedClock
) -> None:
    """``check_books_if_touched`` (run after every test on a database fixture) skips an
    untouched ledger and fails one whose stored balance no longer matches its journal."""
    assert await check_books_if_touched(database) is False
    await card_and_merchants(database, now=clock.now())
    assert await check_books_if_touched(database) is True
    async with database.transaction() as session:
        await session.execute(
            update(LedgerBalance)
            .where(LedgerBalance.account_id == "card-1")
            .values(credits_posted=LedgerBalance.credits_posted + 1)
        )
    with pytest.raises(AssertionError, match="stored balances equal the sum of transfers"):
        await check_books_if_touched(database)
    async with database.transaction() as session:  # put it back for the check after this test
        await session.execute(
            update(LedgerBalance)
            .where(LedgerBalance.account_id == "card-1")
            .values(credits_posted=LedgerBalance.credits_posted - 1)
        )


async def test_verify_names_a_card_balance_customer_money_does_not_cover(
    database: Database, clock: FixedClock
) -> None:
    # given a card loaded from the platform's equity instead of customer money
    from tests.ledger_support import card_spec as card
    from tongka.ledger import AccountCode, AccountSpec, AccountType

    equity = AccountSpec("equity", "CNY", AccountType.EQUITY, AccountCode.OPENING_EQUITY)
    await open_accounts(database, card("card-x"), equity, now=clock.now())
    async with database.transaction() as session:
        await post_transfers(session, [transfer("gift", "equity", "card-x", 700)], now=clock.now())
    await fund(database, "card-x", 200, now=clock.now())
    # when verified, then the cover check fails naming the shortfall
    failed = _failed(await _verify(database, clock))
    assert list(failed) == ["customer money covers what is owed"]
    assert (
        "CNY: reserve + channel receivables 200 < " in failed["customer money covers what is owed"]
    )
    assert "(short by 700)" in failed["customer money covers what is owed"]
