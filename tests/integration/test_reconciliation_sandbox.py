# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Reconciliation against the sandbox gateway: payments paid through each channel, its own
statement downloaded and read by payments' parser of that channel's format, matched 100%;
the worker job reconciles every channel's yesterday once."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.paycore_support import (  # noqa: F401 - fixtures
    RecordingListener,
    listener,
    paid_channels,
    payment_settings,
    real_now,
    start,
)
from tests.payments_support import PaymentSandbox, sandbox_settings  # noqa: F401
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments.channel import ChannelName
from tongka.payments.refunds import refund_payment
from tongka.payments.service import accept_notification
from tongka.reconciliation.daily import reconcile_daily, run_channel
from tongka.reconciliation.reports import get_run


async def _paid(
    database: Database,
    settings: Settings,
    sandbox: PaymentSandbox,
    channel: ChannelName,
    amount: int,
) -> str:
    async with database.transaction() as session:
        started = await start(
            session, settings, real_now(), channel=channel, amount=amount, purpose_id=f"o{amount}"
        )
    await sandbox.pay(channel, started.payment.id)
    assert sandbox.inbox is not None
    _, headers, body = sandbox.inbox.received[-1]
    async with database.transaction() as session:
        await accept_notification(
            session, channel, headers, body, now=real_now(), settings=settings
        )
    return started.payment.id


@pytest.mark.parametrize(
    "channel", [ChannelName.WECHAT, ChannelName.ALIPAY, ChannelName.UNIONPAY], ids=str
)
async def test_each_channels_own_statement_matches_fully(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
    channel: ChannelName,
) -> None:
    paid = [
        await _paid(database, payment_settings, paid_channels, channel, a) for a in (12_300, 45_600)
    ]
    async with database.transaction() as session:  # and a part refunded
        await refund_payment(
            session,
            paid[1],
            refund_id=f"rf-{channel.value}",
            amount_minor=5_600,
            reason="退卡",
            now=real_now(),
            settings=payment_settings,
        )
    day = real_now().astimezone(ZoneInfo("Asia/Shanghai")).date()

    tomorrow = real_now() + timedelta(days=1)  # a day's statement exists once it ended
    run_id = await run_channel(
        database, payment_settings, channel.value, day, actor="user:usr_a", now=tomorrow
    )

    async with database.transaction() as session:
        run = await get_run(session, run_id)
    assert (run.line_count, run.matched_count, run.exception_count) == (3, 3, 0)
    assert run.matched_minor == 12_300 + 45_600 + 5_600


async def test_the_daily_job_reconciles_yesterday_once(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    await _paid(database, payment_settings, paid_channels, ChannelName.WECHAT, 10_000)
    tomorrow = FixedClock(real_now() + timedelta(days=1))

    made = await reconcile_daily(database, tomorrow, payment_settings)
    again = await reconcile_daily(database, tomorrow, payment_settings)

    assert (made, again) == (4, 0)  # wechat, alipay, unionpay, bank_transfer; no bank statement
