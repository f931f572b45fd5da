# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Routing: the cheapest usable channel, then preference; limits and methods; the wallet of
a scanned code; the circuit breaker opens on consecutive errors, skips the channel for its
cool-down, lets one probe through, and closes on the probe's success."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

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
from tongka.config import Settings
from tongka.db import Database
from tongka.payments import registry
from tongka.payments.channel import ChannelError, ChannelName, PaymentMethod, PaymentRequest
from tongka.payments.channel_config import set_channel_settings, settings_of
from tongka.payments.circuit import channel_health
from tongka.payments.errors import ChannelNotUsable, NoChannelAvailable
from tongka.payments.fees import FeeSchedule
from tongka.payments.models import CircuitState


async def configure(database: Database, channel: ChannelName, **changes: Any) -> None:
    async with database.transaction() as session:
        current = await settings_of(session, channel, "CNY")
        await set_channel_settings(
            session,
            current.__class__(**{**current.__dict__, **changes}),
            actor="test",
            now=real_now(),
        )


@dataclass
class Flaky:
    """An adapter that fails (retryably) while ``failing``, else passes calls to ``real``."""

    real: Any
    failing: bool = True
    calls: list[str] = field(default_factory=list)

    @property
    def name(self) -> ChannelName:
        return self.real.name  # type: ignore[no-any-return]

    @property
    def methods(self) -> Any:
        return self.real.methods

    async def create_payment(self, request: PaymentRequest) -> Any:
        self.calls.append(request.payment_id)
        if self.failing:
            raise ChannelError("channel answered 503")
        return await self.real.create_payment(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def flaky_unionpay(paid_channels: PaymentSandbox) -> Iterator[Flaky]:
    flaky = Flaky(paid_channels.channels[ChannelName.UNIONPAY])
    with registry.override_channels({**paid_channels.channels, ChannelName.UNIONPAY: flaky}):  # type: ignore[dict-item]
        yield flaky


async def _route(database: Database, settings: Settings, **kwargs: Any) -> tuple[str, str]:
    async with database.transaction() as session:
        started = await start(session, settings, kwargs.pop("now", real_now()), **kwargs)
    return started.payment.channel, started.payment.route_reason


async def test_cheapest_then_preference_then_limits(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    # by default UnionPay (0.5%) is cheaper than WeChat and Alipay (0.6%)
    channel, reason = await _route(database, payment_settings)
    assert channel == "unionpay"
    assert reason == "routed to unionpay: lowest fee ¥2.50 (next: wechat ¥3.00)"
    # over UnionPay's maximum, the tie between WeChat and Alipay goes to the preference
    await configure(database, ChannelName.UNIONPAY, max_amount_minor=10_000)
    channel, reason = await _route(database, payment_settings)
    assert channel == "wechat"
    assert reason == (
        "routed to wechat: lowest fee ¥3.00, preference 30 over alipay; "
        "skipped unionpay: amount outside ¥0.01–¥100.00"
    )
    await configure(database, ChannelName.ALIPAY, preference=40)
    assert (await _route(database, payment_settings))[0] == "alipay"
    # a fixed part makes Alipay dearer than WeChat
    await configure(database, ChannelName.ALIPAY, fee=FeeSchedule(Decimal("0.006"), 1))
    assert (await _route(database, payment_settings))[0] == "wechat"
    # small amounts still fit UnionPay
    assert (await _route(database, payment_settings, amount=9_000))[0] == "unionpay"


async def test_methods_and_wallets(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    channel, _ = await _route(database, payment_settings, method=PaymentMethod.BANK_TRANSFER)
    assert channel == "bank_transfer"
    assert (
        await _route(database, payment_settings, method=PaymentMethod.JSAPI, payer_openid="o-1")
    )[0] == "wechat"
    code = "281234567890123456"  # an Alipay code (25-30): never routed to a cheaper wallet
    channel, reason = await _route(
        database, payment_settings, method=PaymentMethod.PAYMENT_CODE, payer_code=code
    )
    assert channel == "alipay"
    assert reason.startswith("routed to alipay: wallet of the scanned code")


async def test_nothing_usable_is_refused_naming_why(
    database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    for name in (ChannelName.WECHAT, ChannelName.ALIPAY, ChannelName.UNIONPAY):
        await configure(database, name, is_enabled=False)
    with pytest.raises(NoChannelAvailable) as refused:
        await _route(database, payment_settings)
    assert "wechat: disabled" in refused.value.message
    with pytest.raises(ChannelNotUsable):
        await _route(database, payment_settings, channel=ChannelName.ALIPAY)


async def test_circuit_opens_skips_probes_and_closes(
    database: Database,
    payment_settings: Settings,
    flaky_unionpay: Flaky,
    listener: RecordingListener,
) -> None:
    now = real_now()
    # five payments fall back from the failing UnionPay to WeChat; each failure counts
    for attempt in range(payment_settings.payments_circuit_failures):
        channel, reason = await _route(
            database, payment_settings, now=now, purpose_id=f"o{attempt}"
        )
        assert channel == "wechat"
        assert "unionpay failed: channel answered 503; fell back to wechat" in reason
    assert len(flaky_unionpay.calls) == 5
    async with database.transaction() as session:
        health = (await channel_health(session))[ChannelName.UNIONPAY]
    assert (health.state, health.consecutive_failures) == (CircuitState.OPEN, 5)
    # while open, UnionPay is not even asked
    channel, reason = await _route(database, payment_settings, now=now + timedelta(seconds=30))
    assert channel == "wechat"
    assert "skipped unionpay: circuit open until" in reason
    assert len(flaky_unionpay.calls) == 5
    # after the cool-down one probe goes through; it succeeds and closes the circuit
    flaky_unionpay.failing = False
    later = now + timedelta(seconds=payment_settings.payments_circuit_cooldown_seconds + 1)
    assert (await _route(database, payment_settings, now=later))[0] == "unionpay"
    async with database.transaction() as session:
        health = (await channel_health(session))[ChannelName.UNIONPAY]
    assert (health.state, health.consecutive_failures) == (CircuitState.CLOSED, 0)


async def test_a_failed_probe_opens_the_circuit_again(
    database: Database,
    payment_settings: Settings,
    flaky_unionpay: Flaky,
    listener: RecordingListener,
) -> None:
    now = real_now()
    for attempt in range(5):
        await _route(database, payment_settings, now=now, purpose_id=f"o{attempt}")
    later = now + timedelta(seconds=payment_settings.payments_circuit_cooldown_seconds + 1)
    channel, reason = await _route(database, payment_settings, now=later)
    assert channel == "wechat"
    assert len(flaky_unionpay.calls) == 6  # the probe
    async with database.transaction() as session:
        health = (await channel_health(session))[ChannelName.UNIONPAY]
    assert health.state is CircuitState.OPEN
    assert health.opened_until == later + timedelta(
        seconds=payment_settings.payments_circuit_cooldown_seconds
    )


async def test_a_refused_payment_leaves_no_row_but_the_breaker_counts(
    database: Database,
    payment_settings: Settings,
    flaky_unionpay: Flaky,
    listener: RecordingListener,
) -> None:
    from sqlalchemy import func, select

    from tongka.payments.models import Payment

    # a declined payment code (a definite answer): refused, nothing written
    async with database.transaction() as session:
        with pytest.raises(ChannelError):
            await start(
                session,
                payment_settings,
                real_now(),
                method=PaymentMethod.PAYMENT_CODE,
                payer_code="131234567890120000",
            )
        # the only candidate failing retryably: refused, but its error is counted
        with pytest.raises(ChannelError):
            await start(session, payment_settings, real_now(), channel=ChannelName.UNIONPAY)
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
        health = (await channel_health(session))[ChannelName.UNIONPAY]
    assert health.consecutive_failures == 1
