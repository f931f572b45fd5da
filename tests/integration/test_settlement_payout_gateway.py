"""The sandbox gateway's payout desk over HTTP, through the channel settlement uses:
one payout per key, rejections with a reason, timeouts that the bank did receive,
returns (退票) days later."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.payments.sandbox.app import create_gateway
from tongka.payments.sandbox.payouts import PayoutOutcome, Plan
from tongka.settlement.payout_channel import HttpPayoutChannel, PayoutOrder, PayoutTimedOut


def order(key: str, amount: int = 9_940) -> PayoutOrder:
    return PayoutOrder(key, amount, "CNY", "中国工商银行", "甲有限公司", "6222020200112233445")


@pytest.fixture
async def gateway(
    settings: Settings, clock: FixedClock
) -> AsyncIterator[tuple[HttpPayoutChannel, httpx.AsyncClient, object]]:
    app = create_gateway(settings, now=clock.now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield HttpPayoutChannel("http://gateway", http), http, app.state.payouts


async def test_a_key_pays_once_and_answers_the_same(gateway) -> None:  # type: ignore[no-untyped-def]
    channel, _, simulator = gateway
    first = await channel.submit(order("stb_1-1"))
    again = await channel.submit(order("stb_1-1"))
    assert first.status == "accepted"
    assert again == first
    assert len(simulator.payouts) == 1  # type: ignore[attr-defined]
    assert (await channel.query("stb_2-1")).status == "unknown"


async def test_planned_rejection_timeout_and_return(gateway, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    channel, http, _ = gateway
    for plan in (
        {"outcome": "reject", "reason": "户名不符"},
        {"outcome": "timeout"},
        {"outcome": "return", "return_after_days": 2},
    ):
        assert (await http.post("/sandbox/payouts/plan", json=plan)).status_code == 200
    rejected = await channel.submit(order("k-reject"))
    assert (rejected.status, rejected.reason) == ("rejected", "户名不符")
    with pytest.raises(PayoutTimedOut):
        await channel.submit(order("k-timeout"))
    assert (await channel.query("k-timeout")).status == "accepted"  # the bank had it
    assert (await channel.submit(order("k-return"))).status == "accepted"
    clock.advance(timedelta(days=2))
    returned = await channel.query("k-return")
    assert returned.status == "returned"
    assert returned.reason is not None


def test_plans_name_known_outcomes() -> None:
    assert Plan(PayoutOutcome.RETURN).return_after_days == 2


async def test_a_desk_that_does_not_answer_is_asked_again_later() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        channel = HttpPayoutChannel("http://gateway", http)
        assert (await channel.query("stb_1-1")).status == "unknown"  # the run goes on
        with pytest.raises(PayoutTimedOut):  # and a payout sent now is asked about later
            await channel.submit(order("stb_1-1"))
