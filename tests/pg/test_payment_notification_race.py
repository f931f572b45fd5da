# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""200 concurrent deliveries of one signed notification on PostgreSQL: the payment settles
once, its listener posts once, every delivery is acknowledged, and the ledger verifies."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

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
from tongka.ledger.models import LedgerTransfer
from tongka.ledger.verify import verify_ledger
from tongka.payments.channel import ChannelName
from tongka.payments.service import accept_notification, get_payment

pytestmark = pytest.mark.pg

DELIVERIES = 200


@pytest.mark.parametrize("channel", [ChannelName.WECHAT, ChannelName.ALIPAY], ids=str)
async def test_one_notification_delivered_200_times_at_once(
    pg_database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
    channel: ChannelName,
) -> None:
    database = pg_database
    async with database.transaction() as session:
        started = await start(session, payment_settings, real_now(), channel=channel)
    payment_id = started.payment.id
    await paid_channels.pay(channel, payment_id)
    assert paid_channels.inbox is not None
    (_, headers, body) = paid_channels.inbox.received[0]

    async def deliver() -> int:
        async def work(session: object) -> int:
            ack = await accept_notification(
                session,  # type: ignore[arg-type]
                channel,
                headers,
                body,
                now=real_now(),
                settings=payment_settings,
            )
            return ack.status_code

        return await database.run(work)  # type: ignore[arg-type]

    codes = await asyncio.wait_for(
        asyncio.gather(*(deliver() for _ in range(DELIVERIES))), timeout=300
    )
    assert len(codes) == DELIVERIES
    assert len(set(codes)) == 1
    assert codes[0] < 300
    assert len(listener.calls) == 1
    async with database.transaction() as session:
        view = await get_payment(session, payment_id)
        transfers = await session.scalar(select(func.count()).select_from(LedgerTransfer))
        report = await verify_ledger(session, real_now())
    assert view.status == "succeeded"
    assert transfers == 1
    assert report.ok, [check.details for check in report.failures]
