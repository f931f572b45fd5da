"""Reconciliation (对账): a channel's day matched against the ledger and the bank, every
difference an exception of its kind, resolved by hand or by an approved adjustment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.reconciliation_support import (
    DAY,
    TIMEZONE,
    add_payments,
    add_refund,
    at,
    line,
    payment_row,
)
from tongka.db import Database
from tongka.ledger import TransferRequest, get_balance, post_transfers
from tongka.ledger.models import LedgerTransfer
from tongka.ledger.system_accounts import system_account, system_account_id
from tongka.ledger.types import AccountCode
from tongka.payments.accounts import channel_receivable_id
from tongka.payments.adapters.wechat import parse_tradebill
from tongka.reconciliation import resolutions
from tongka.reconciliation.bank import parse_bank_statement, settlement_note
from tongka.reconciliation.errors import (
    ExceptionAlreadyResolved,
    NothingToAdjust,
    SameApprover,
    StatementInvalid,
)
from tongka.reconciliation.kinds import ExceptionStatus, ResolutionMethod
from tongka.reconciliation.models import ChannelLine, ReconciliationException, ReconciliationRun
from tongka.reconciliation.service import (
    import_bank_statement,
    reconcile_channel,
    reconcile_reserve,
)
from tongka.reconciliation.writers import BankEntry, bank_statement, wechat_bill

NOW = at(DAY + timedelta(days=1), 9)
ALICE = "user:usr_alice"
BOB = "user:usr_bob"


async def _run(database: Database, lines: list, day=DAY) -> ReconciliationRun:  # type: ignore[no-untyped-def]
    async with database.transaction() as session:
        return await reconcile_channel(
            session, "wechat", day, lines, actor=ALICE, now=NOW, timezone=TIMEZONE
        )


async def _kinds(database: Database, run_id: str) -> dict[str, list[str | None]]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(ReconciliationException)
            .where(ReconciliationException.run_id == run_id)
            .order_by(ReconciliationException.id)
        )
        found: dict[str, list[str | None]] = {}
        for row in rows:
            found.setdefault(row.kind, []).append(row.reference)
        return found


async def test_a_clean_day_matches_every_line(database: Database) -> None:
    # given three payments and a refund, and a statement that agrees
    async with database.transaction() as session:
        await add_payments(
            session,
            [payment_row(f"pay_{n}", 10_000 * n, 60 * n, at(minute=n)) for n in (1, 2, 3)],
        )
        await add_refund(session, "rf_1", "pay_2", 5_000, at(hour=15))
    lines = [line(f"pay_{n}", 10_000 * n, 60 * n, at(minute=n)) for n in (1, 2, 3)]
    lines.append(line("pay_2", 5_000, -30, at(hour=15), refund_id="rf_1"))

    # when
    run = await _run(database, lines)

    # then
    assert (run.line_count, run.matched_count, run.exception_count) == (4, 4, 0)
    assert run.matched_minor == run.channel_minor == 65_000
    assert run.ledger_count == 4
    assert await _kinds(database, run.id) == {}
    # and running the day again answers the same run and adds nothing
    again = await _run(database, lines)
    assert again.id == run.id
    async with database.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(ReconciliationRun))
    assert count == 1


async def test_every_kind_of_difference_is_an_exception(database: Database) -> None:
    # given our books
    async with database.transaction() as session:
        await add_payments(
            session,
            [
                payment_row("pay_ok", 10_000, 60, at()),
                payment_row("pay_amount", 20_000, 120, at()),
                payment_row("pay_fee", 30_000, 180, at()),
                payment_row("pay_dup", 40_000, 240, at()),
                payment_row("pay_short", 50_000, 300, at()),
                # paid late the evening before, the channel booked it on DAY
                payment_row("pay_shift", 60_000, 360, at(DAY - timedelta(days=1), 23, 59)),
                # a day off and not on this statement: not this run's business
                payment_row("pay_next", 70_000, 420, at(DAY + timedelta(days=1))),
            ],
        )
    # and the channel's statement
    lines = [
        line("pay_ok", 10_000, 60),
        line("pay_amount", 20_100, 120),
        line("pay_fee", 30_000, 200),
        line("pay_dup", 40_000, 240),
        line("pay_dup", 40_000, 240),
        line("pay_long", 5_000, 30),
        line("pay_shift", 60_000, 360, at(DAY, 0, 1)),
    ]

    # when
    run = await _run(database, lines)

    # then
    assert await _kinds(database, run.id) == {
        "amount_mismatch": ["pay_amount"],
        "date_shift": ["pay_shift"],
        "duplicate": ["pay_dup"],
        "fee_mismatch": ["pay_fee"],
        "long": ["pay_long"],
        "short": ["pay_short"],
    }
    assert (run.line_count, run.matched_count, run.exception_count) == (7, 2, 6)


async def test_a_file_is_streamed_through_the_channels_parser(database: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # given a WeChat trade bill on disk
    count = 300
    async with database.transaction() as session:
        await add_payments(
            session,
            [payment_row(f"pay_{n}", 100 + n, 1, at(minute=n % 60)) for n in range(count)],
        )
    path = tmp_path / "wechat.csv"
    with path.open("wb") as out:
        for chunk in wechat_bill(
            line(f"pay_{n}", 100 + n, 1, at(minute=n % 60)) for n in range(count)
        ):
            out.write(chunk)

    # when the file is read line by line (an open file: never read whole)
    with path.open("rb") as statement:
        run = await _run(database, parse_tradebill(statement))

    # then
    assert (run.line_count, run.matched_count, run.exception_count) == (count, count, 0)


async def test_the_bank_leg_and_the_reserve_balance(database: Database) -> None:
    # given a matched day whose channel net is 10_000 - 60
    async with database.transaction() as session:
        await add_payments(session, [payment_row("pay_1", 10_000, 60, at())])
    run = await _run(database, [line("pay_1", 10_000, 60)])
    assert run.bank_status == "unchecked"

    # when the next day's bank statement shows less than the channel settled
    entries = [
        BankEntry(at(DAY + timedelta(days=1), 10), True, 9_900, settlement_note("wechat", DAY))
    ]
    content = b"".join(bank_statement(entries, opening_minor=0))
    async with database.transaction() as session:
        await import_bank_statement(
            session, DAY + timedelta(days=1), parse_bank_statement(content), actor=ALICE, now=NOW
        )
        # then the run's bank leg is a mismatch
        checked = await session.get(ReconciliationRun, run.id)
        assert checked is not None
        assert (checked.bank_status, checked.bank_minor) == ("mismatch", 9_900)
        # and the reserve's ledger balance (nothing posted) differs from the bank's 9 900
        reserve = await reconcile_reserve(
            session, DAY + timedelta(days=1), actor=ALICE, now=NOW, timezone=TIMEZONE
        )
    assert (reserve.ledger_balance_minor, reserve.bank_balance_minor) == (0, 9_900)
    assert await _kinds(database, run.id) == {"bank_mismatch": [None]}
    assert await _kinds(database, reserve.id) == {"reserve_balance": [None]}


async def _long_exception(database: Database) -> str:
    run = await _run(database, [line("pay_long", 5_000, 30)])
    async with database.transaction() as session:
        exception_id = await session.scalar(
            select(ReconciliationException.id).where(ReconciliationException.run_id == run.id)
        )
    assert exception_id is not None
    return exception_id


async def test_an_adjustment_needs_a_second_person_and_posts_once(database: Database) -> None:
    exception_id = await _long_exception(database)
    async with database.transaction() as session:
        proposal = await resolutions.propose(
            session,
            exception_id,
            ResolutionMethod.ADJUSTMENT,
            "channel took a payment we never recorded",
            actor=ALICE,
            now=NOW,
        )
        assert (
            await resolutions.status_of(session, exception_id) is ExceptionStatus.AWAITING_APPROVAL
        )

    # the proposer cannot approve it
    with pytest.raises(SameApprover):
        async with database.transaction() as session:
            await resolutions.approve(session, proposal.id, actor=ALICE, now=NOW)

    # another person can, and twice posts once
    for _ in range(2):
        async with database.transaction() as session:
            approval = await resolutions.approve(session, proposal.id, actor=BOB, now=NOW)
    async with database.transaction() as session:
        transfers = (
            await session.scalars(
                select(LedgerTransfer).where(LedgerTransfer.id == approval.transfer_id)
            )
        ).all()
        assert [(t.amount, t.code) for t in transfers] == [(5_000, "reconciliation_adjustment")]
        receivable = await get_balance(session, channel_receivable_id("wechat", "CNY"))
        suspense = await get_balance(session, system_account_id(AccountCode.SUSPENSE, "CNY"))
        assert (receivable.posted, suspense.posted) == (5_000, 5_000)
        assert await resolutions.status_of(session, exception_id) is ExceptionStatus.RESOLVED


async def test_a_match_by_hand_is_final_and_one_resolution_only(database: Database) -> None:
    exception_id = await _long_exception(database)
    async with database.transaction() as session:
        await resolutions.propose(
            session,
            exception_id,
            ResolutionMethod.MANUAL_MATCH,
            "mistyped order number",
            actor=ALICE,
            now=NOW,
            matched_reference="pay_real",
        )
        assert await resolutions.status_of(session, exception_id) is ExceptionStatus.RESOLVED
    with pytest.raises(ExceptionAlreadyResolved):
        async with database.transaction() as session:
            await resolutions.propose(
                session, exception_id, ResolutionMethod.ADJUSTMENT, "again", actor=BOB, now=NOW
            )


async def test_a_date_shift_moves_no_money(database: Database) -> None:
    async with database.transaction() as session:
        await add_payments(
            session, [payment_row("pay_shift", 1_000, 6, at(DAY - timedelta(days=1), 23))]
        )
    run = await _run(database, [line("pay_shift", 1_000, 6)])
    async with database.transaction() as session:
        exception_id = await session.scalar(
            select(ReconciliationException.id).where(ReconciliationException.run_id == run.id)
        )
    assert exception_id is not None
    with pytest.raises(NothingToAdjust):
        async with database.transaction() as session:
            await resolutions.propose(
                session, exception_id, ResolutionMethod.ADJUSTMENT, "x", actor=ALICE, now=NOW
            )


async def test_an_unreadable_line_stops_the_import_and_leaves_nothing(database: Database) -> None:
    # given a bill whose third line has an amount with three decimals
    good = b"".join(wechat_bill([line("pay_1", 100, 1), line("pay_2", 200, 1)]))
    header, first, second, *summary = good.split(b"\r\n")
    broken = second.replace(b"`2.00", b"`2.001", 1)
    content = b"\r\n".join([header, first, broken, *summary])

    # when
    with pytest.raises(StatementInvalid) as refused:
        await _run(database, parse_tradebill(content))

    # then it names the line, and no run or line is left
    assert refused.value.details["line"] == 2
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(ReconciliationRun)) == 0
        assert await session.scalar(select(func.count()).select_from(ChannelLine)) == 0


@pytest.mark.parametrize("order", ["day_first", "next_day_first"])
async def test_a_payment_the_channel_booked_the_next_day_is_one_difference(
    database: Database, order: str
) -> None:
    # given a payment late on DAY that the channel lists on the next day's statement
    next_day = DAY + timedelta(days=1)
    async with database.transaction() as session:
        await add_payments(session, [payment_row("pay_late", 1_000, 6, at(DAY, 23, 59))])
    statements = {DAY: [], next_day: [line("pay_late", 1_000, 6, at(next_day, 0, 1))]}
    days = [DAY, next_day] if order == "day_first" else [next_day, DAY]

    # when both days are reconciled
    runs = {day: await _run(database, statements[day], day) for day in days}

    # then the next day has the date shift; DAY's short, if it was found before the next
    # day's statement came, is matched by the system
    assert await _kinds(database, runs[next_day].id) == {"date_shift": ["pay_late"]}
    day_kinds = await _kinds(database, runs[DAY].id)
    if order == "next_day_first":
        assert day_kinds == {}
    else:
        assert day_kinds == {"short": ["pay_late"]}
        async with database.transaction() as session:
            short_id = await session.scalar(
                select(ReconciliationException.id).where(
                    ReconciliationException.run_id == runs[DAY].id
                )
            )
            assert short_id is not None
            assert await resolutions.status_of(session, short_id) is ExceptionStatus.RESOLVED


async def test_the_bank_leg_of_a_bank_transfer_or_an_empty_day_needs_no_settlement(
    database: Database,
) -> None:
    # given a bank-transfer day (its statement is the bank's own) and a channel's empty day
    async with database.transaction() as session:
        transfer = await reconcile_channel(
            session, "bank_transfer", DAY, [], actor=ALICE, now=NOW, timezone=TIMEZONE
        )
        empty = await reconcile_channel(
            session, "alipay", DAY, [], actor=ALICE, now=NOW, timezone=TIMEZONE
        )
        # when the next day's bank statement has no settlement for either
        await import_bank_statement(
            session,
            DAY + timedelta(days=1),
            parse_bank_statement(b"".join(bank_statement([], opening_minor=0))),
            actor=ALICE,
            now=NOW,
        )
    # then neither is a difference
    assert (transfer.bank_status, empty.bank_status) == ("matched", "matched")
    assert await _kinds(database, transfer.id) == {}
    assert await _kinds(database, empty.id) == {}


async def test_a_settled_day_matches_the_bank_and_the_reserve(database: Database) -> None:
    # given a matched day (net 10_000 - 60) and the reserve holding what the channel paid
    async with database.transaction() as session:
        await add_payments(session, [payment_row("pay_1", 10_000, 60, at())])
    run = await _run(database, [line("pay_1", 10_000, 60)])
    settled = DAY + timedelta(days=1)
    async with database.transaction() as session:
        reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=NOW)
        equity = await system_account(session, AccountCode.OPENING_EQUITY, "CNY", now=NOW)
        await post_transfers(
            session,
            [TransferRequest("test:settle", reserve, equity, 9_940, "CNY", "test_settlement")],
            now=at(settled, 10),
        )
    entries = [BankEntry(at(settled, 10), True, 9_940, settlement_note("wechat", DAY))]

    # when the bank statement of the next day comes and the reserve is reconciled
    async with database.transaction() as session:
        await import_bank_statement(
            session,
            settled,
            parse_bank_statement(b"".join(bank_statement(entries, opening_minor=0))),
            actor=ALICE,
            now=NOW,
        )
        reserve_run = await reconcile_reserve(
            session, settled, actor=ALICE, now=NOW, timezone=TIMEZONE
        )
        checked = await session.get(ReconciliationRun, run.id)

    # then both match, with no exception
    assert checked is not None
    assert (checked.bank_status, checked.bank_minor) == ("matched", 9_940)
    assert (reserve_run.bank_status, reserve_run.ledger_balance_minor) == ("matched", 9_940)
    assert await _kinds(database, reserve_run.id) == {}
