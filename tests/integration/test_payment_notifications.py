# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Notifications: a good one settles the payment once and tells its purpose; duplicated,
out-of-order, wrong-amount, other-payment and forged ones are deduplicated or refused and
change nothing (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.paycore_support import (  # noqa: F401 - fixtures
    PURPOSE,
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
from tongka.payments.channel import ChannelName, ForgedNotification, PaymentMethod
from tongka.payments.errors import NotificationMismatch
from tongka.payments.models import Payment, PaymentRefund
from tongka.payments.purposes import PaymentOutcome
from tongka.payments.service import accept_notification, get_payment


async def _started(
    database: Database, settings: Settings, channel: ChannelName, amount: int = 50_000
) -> str:
    method = (
        PaymentMethod.BANK_TRANSFER
        if channel is ChannelName.BANK_TRANSFER
        else PaymentMethod.NATIVE_QR
    )
    async with database.transaction() as session:
        started = await start(
            session, settings, real_now(), method=method, channel=channel, amount=amount
        )
    return started.payment.id


async def _deliver(
    database: Database,
    settings: Settings,
    channel: ChannelName,
    message: tuple[str, dict[str, str], bytes],
) -> Any:
    _, headers, body = message
    async with database.transaction() as session:
        return await accept_notification(
            session, channel, headers, body, now=real_now(), settings=settings
        )


async def _state(database: Database) -> tuple[list[tuple[Any, ...]], int]:
    async with database.transaction() as session:
        payments = [
            (p.id, p.status, p.refunded_minor, p.channel_transaction_id)
            for p in (await session.scalars(select(Payment).order_by(Payment.id))).all()
        ]
        transfers = await session.scalar(select(func.count()).select_from(LedgerTransfer))
    return payments, int(transfers or 0)


CHANNELS = [ChannelName.WECHAT, ChannelName.ALIPAY, ChannelName.UNIONPAY, ChannelName.BANK_TRANSFER]


@pytest.mark.parametrize("channel", CHANNELS, ids=str)
async def test_good_then_duplicate_and_stale(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
    channel: ChannelName,
) -> None:
    # given an awaiting payment
    payment_id = await _started(database, payment_settings, channel)
    # when the payer pays and the channel notifies twice, then a stale "not paid"
    await paid_channels.pay(
        channel, payment_id, faults=["duplicate", "out_of_order"], funding_type="debit_card"
    )
    assert paid_channels.inbox is not None
    messages = paid_channels.inbox.received
    assert len(messages) == 3
    acks = [await _deliver(database, payment_settings, channel, message) for message in messages]
    # then every one is acknowledged, the payment settled once, the listener told once
    assert {ack.status_code for ack in acks} <= {200, 204}
    assert len(listener.calls) == 1
    async with database.transaction() as session:
        view = await get_payment(session, payment_id)
    assert view.status == "succeeded"
    assert view.channel_transaction_id
    assert view.paid_at is not None
    payments, transfers = await _state(database)
    assert transfers == 1
    # a notification delivered again later changes nothing either
    await _deliver(database, payment_settings, channel, messages[0])
    assert await _state(database) == (payments, transfers)
    assert len(listener.calls) == 1


@pytest.mark.parametrize(
    "fault",
    ["wrong_amount", "other_order", "unknown_order", "forged_signature"],
)
@pytest.mark.parametrize("channel", CHANNELS, ids=str)
async def test_bad_notifications_change_nothing(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
    channel: ChannelName,
    fault: str,
) -> None:
    payment_id = await _started(database, payment_settings, channel)
    # another payment of ours (of another amount), or an id we never issued
    other = (
        await _started(database, payment_settings, channel, amount=12_300)
        if fault == "other_order"
        else None
    )
    before = await _state(database)
    faults = ["other_order"] if fault == "unknown_order" else [fault]
    await paid_channels.pay(channel, payment_id, faults=faults, other_payment_id=other)
    assert paid_channels.inbox is not None
    (message,) = paid_channels.inbox.received
    expected = ForgedNotification if fault == "forged_signature" else NotificationMismatch
    with pytest.raises(expected):
        await _deliver(database, payment_settings, channel, message)
    assert await _state(database) == before
    assert listener.calls == []


async def test_refund_outcome_refunds_through_the_channel(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    # given a purpose that refuses the payment (its order expired)
    listener.outcome = PaymentOutcome.REFUND
    payment_id = await _started(database, payment_settings, ChannelName.ALIPAY)
    await paid_channels.pay(ChannelName.ALIPAY, payment_id, faults=["duplicate"])
    assert paid_channels.inbox is not None
    for message in paid_channels.inbox.received:
        await _deliver(database, payment_settings, ChannelName.ALIPAY, message)
    # then it is refunded in full at the channel, once, and nothing reached the ledger
    gateway_payment = paid_channels.gateway.state.get(ChannelName.ALIPAY, payment_id)
    assert gateway_payment is not None
    assert gateway_payment.refunded_minor == 50_000
    async with database.transaction() as session:
        view = await get_payment(session, payment_id)
        refunds = (await session.scalars(select(PaymentRefund))).all()
    assert (view.status, view.refunded_minor) == ("refunded", 50_000)
    assert [(r.id, r.amount_minor, r.is_automatic, r.status) for r in refunds] == [
        (f"auto-{payment_id}", 50_000, True, "succeeded")
    ]
    assert (await _state(database))[1] == 0
    assert len(listener.calls) == 1
    assert listener.calls[0].purpose_kind == PURPOSE
