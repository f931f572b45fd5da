# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Importing a channel's statement: receivable → reserve bank less the fee (an expense), per
line, once however often it is imported; refunds reverse it; every difference is listed."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from tests.paycore_support import (  # noqa: F401 - fixtures
    RecordingListener,
    listener,
    paid_channels,
    payment_settings,
    real_now,
    start,
)
from tests.payments_support import PaymentSandbox, sandbox_settings  # noqa: F401
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger import AccountCode, get_balance
from tongka.ledger.system_accounts import system_account_id
from tongka.payments.accounts import channel_receivable_id
from tongka.payments.channel import ChannelName, StatementLineKind
from tongka.payments.refunds import refund_payment
from tongka.payments.service import accept_notification
from tongka.payments.statements import DifferenceKind, import_statement

WECHAT = ChannelName.WECHAT


async def _paid(
    database: Database,
    settings: Settings,
    sandbox: PaymentSandbox,
    amount: int,
    *,
    notify: bool = True,
) -> str:
    async with database.transaction() as session:
        started = await start(
            session, settings, real_now(), channel=WECHAT, amount=amount, purpose_id=f"o{amount}"
        )
    payment_id = started.payment.id
    await sandbox.pay(WECHAT, payment_id, faults=[] if notify else ["silent"])
    if notify:
        assert sandbox.inbox is not None
        _, headers, body = sandbox.inbox.received[-1]
        async with database.transaction() as session:
            await accept_notification(
                session, WECHAT, headers, body, now=real_now(), settings=settings
            )
    return payment_id


async def _balance(database: Database, account_id: str) -> int:
    async with database.transaction() as session:
        return (await get_balance(session, account_id)).posted


async def test_import_moves_money_once_and_lists_differences(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    # given four payments: two plain, one refunded in part, one never notified here
    plain = await _paid(database, payment_settings, paid_channels, 50_000)
    mismatched = await _paid(database, payment_settings, paid_channels, 20_000)
    refunded = await _paid(database, payment_settings, paid_channels, 30_000)
    silent = await _paid(database, payment_settings, paid_channels, 10_000, notify=False)
    dropped = await _paid(database, payment_settings, paid_channels, 40_000)
    async with database.transaction() as session:
        await refund_payment(
            session,
            refunded,
            refund_id="rf-1",
            amount_minor=10_000,
            reason="退卡",
            now=real_now(),
            settings=payment_settings,
        )
    day = real_now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    adapter = paid_channels.channels[WECHAT]
    lines = list(adapter.parse_statement(await adapter.download_statement(day)))
    # the statement shows one amount we disagree with, and leaves one payment out
    lines = [
        replace(line, amount_minor=line.amount_minor + 1) if line.payment_id == mismatched else line
        for line in lines
        if line.payment_id != dropped
    ]
    # when imported twice
    results = [
        await import_statement(
            database, WECHAT, day, lines, now=real_now(), timezone="Asia/Shanghai"
        )
        for _ in range(2)
    ]
    # then the money moved once: 500 + 300 in, less fees 3.00 + 1.80; refund 100 back less
    # its 0.60 fee given back
    first, second = results
    assert (first.lines, first.posted, first.already) == (5, 3, 0)
    assert (second.posted, second.already) == (0, 3)
    reserve = await _balance(database, system_account_id(AccountCode.RESERVE_BANK, "CNY"))
    expense = await _balance(database, system_account_id(AccountCode.CHANNEL_FEE_EXPENSE, "CNY"))
    receivable = await _balance(database, channel_receivable_id(WECHAT, "CNY"))
    assert expense == 300 + 180 - 60
    assert reserve == (50_000 - 300) + (30_000 - 180) - (10_000 - 60)
    # settled: plain and refunded; still owed: mismatched and dropped; and the refund the
    # channel paid back, which the purpose (here a test listener) never took off its card
    assert receivable == 20_000 + 40_000 + 10_000
    kinds = sorted((d.kind, d.payment_id) for d in first.differences)
    assert kinds == sorted(
        [
            (DifferenceKind.AMOUNT_MISMATCH, mismatched),
            (DifferenceKind.NOT_IN_LEDGER, silent),
            (DifferenceKind.NOT_IN_STATEMENT, dropped),
        ]
    )
    assert [d.kind for d in second.differences] == [d.kind for d in first.differences]
    assert StatementLineKind.REFUND in {line.kind for line in lines}
    _ = plain


def test_the_command_prints_a_table_of_differences(monkeypatch: object, tmp_path: object) -> None:
    from tongka.cli import app

    result = CliRunner().invoke(
        app, ["payments", "import-statement", "--channel", "wechat", "--date", "bad"]
    )
    assert result.exit_code == 2
    assert "--date must look like" in result.output
