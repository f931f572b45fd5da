# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""The jobs: a payment that never notified is found by polling before it expires (and the
listener told once); one still unpaid after expiry is closed; health checks open and close
a channel's circuit."""

from __future__ import annotations

from datetime import timedelta

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
from tongka.payments import registry
from tongka.payments.channel import ChannelError, ChannelName, ChannelPaymentStatus
from tongka.payments.circuit import channel_health
from tongka.payments.jobs import check_channels, poll_expiring
from tongka.payments.models import CircuitState
from tongka.payments.service import get_payment


async def test_silent_payment_is_found_by_polling_and_unpaid_one_closed(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    created = real_now()
    async with database.transaction() as session:
        paid = await start(session, payment_settings, created, channel=ChannelName.ALIPAY)
        unpaid = await start(
            session, payment_settings, created, channel=ChannelName.WECHAT, purpose_id="o2"
        )
    await paid_channels.pay(ChannelName.ALIPAY, paid.payment.id, faults=["silent"])
    # not near expiry yet: nothing is polled
    assert (
        await poll_expiring(database, FixedClock(created + timedelta(minutes=1)), payment_settings)
        == 0
    )
    # near expiry both are polled: the paid one settles (listener once), the other waits
    near = FixedClock(created + timedelta(minutes=13))
    assert await poll_expiring(database, near, payment_settings) == 2
    assert await poll_expiring(database, near, payment_settings) == 0  # polled just now
    assert len(listener.calls) == 1
    # after expiry the unpaid one is closed at the channel and here
    late = FixedClock(created + timedelta(minutes=17))
    assert await poll_expiring(database, late, payment_settings) == 1
    async with database.transaction() as session:
        assert (await get_payment(session, paid.payment.id)).status == "succeeded"
        assert (await get_payment(session, unpaid.payment.id)).status == "closed"
    wechat = paid_channels.channels[ChannelName.WECHAT]
    assert (await wechat.query_payment(unpaid.payment.id)).status is ChannelPaymentStatus.CLOSED
    assert len(listener.calls) == 1


class Down:
    def __init__(self, real: object) -> None:
        self.real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    async def query_payment(self, payment_id: str) -> object:
        raise ChannelError("channel unreachable: ConnectError")


async def test_failed_health_checks_open_the_circuit_and_a_good_one_closes_it(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox
) -> None:
    clock = FixedClock(real_now())
    down = {
        **paid_channels.channels,
        ChannelName.UNIONPAY: Down(paid_channels.channels[ChannelName.UNIONPAY]),
    }
    with registry.override_channels(down):  # type: ignore[arg-type]
        for _ in range(payment_settings.payments_circuit_failures):
            assert await check_channels(database, clock, payment_settings) == 4
    async with database.transaction() as session:
        health = await channel_health(session)
    assert health[ChannelName.UNIONPAY].state is CircuitState.OPEN
    assert health[ChannelName.UNIONPAY].last_check_ok is False
    assert health[ChannelName.WECHAT].state is CircuitState.CLOSED
    assert health[ChannelName.WECHAT].last_check_ok is True
    await check_channels(database, clock, payment_settings)
    async with database.transaction() as session:
        health = await channel_health(session)
    assert (
        health[ChannelName.UNIONPAY].state,
        health[ChannelName.UNIONPAY].consecutive_failures,
    ) == (
        CircuitState.CLOSED,
        0,
    )
