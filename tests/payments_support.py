"""An in-process sandbox payment gateway for tests: the full payment path without sockets.

Usage (pytest, asyncio_mode=auto)::

    from tests.payments_support import payment_sandbox, sandbox_settings  # noqa: F401 (fixtures)

    async def test_buy(payment_sandbox):
        wechat = payment_sandbox.channels[ChannelName.WECHAT]          # a real adapter
        instructions = await wechat.create_payment(PaymentRequest(..., notify_url=
            "http://tongka.test/v1/channels/wechat/notify"))
        outcome = await payment_sandbox.pay(ChannelName.WECHAT, "pay_1", funding_type="debit_card",
                                            faults=["duplicate"])  # notifications delivered now
        payment_sandbox.inbox                                        # what was delivered

To deliver the gateway's notifications to the Tongka app (or any ASGI app) instead of the
recording inbox, build it yourself::

    async with open_payment_sandbox(settings, notify_app=tongka_app, now=clock.now) as sandbox:
        registry_override(sandbox.channels)   # however your part injects channels
        ...

Adapters' HTTP goes to the gateway through ``httpx.ASGITransport`` (base URL
``settings.sandbox_gateway_url``); the gateway's notifications go to ``notify_app`` through
another ``ASGITransport``, whatever host the ``notify_url`` names. Keys are generated once
per test session (``sandbox_settings``: RSA key generation is the slow part).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from tongka.config import Settings
from tongka.payments.adapters import build_channels
from tongka.payments.channel import ChannelName, PaymentChannel
from tongka.payments.sandbox.app import Gateway, create_gateway

GATEWAY_URL = "http://sandbox-gateway.test"


@dataclass
class Inbox:
    """A stand-in receiver: records each delivered notification and answers ``status_code``."""

    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status_code: int = 204

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        self.received.append((request.url.path, dict(request.headers), body))
        await Response(status_code=self.status_code)(scope, receive, send)


@dataclass
class PaymentSandbox:
    settings: Settings
    app: Any  # the gateway's FastAPI app
    gateway: Gateway
    channels: dict[ChannelName, PaymentChannel]
    http: httpx.AsyncClient  # to the gateway
    inbox: Inbox | None

    async def pay(
        self,
        channel: ChannelName | str,
        payment_id: str,
        *,
        action: str = "confirm",
        funding_type: str = "balance",
        faults: Sequence[str] = (),
        other_payment_id: str | None = None,
        delay_seconds: float = 0.0,
    ) -> dict[str, Any]:
        """The payer confirms (or cancels) on the gateway; returns its answer, including the
        notification deliveries' status codes."""
        response = await self.http.post(
            f"/sandbox/payments/{ChannelName(channel).value}/{payment_id}/pay",
            json={
                "action": action,
                "funding_type": funding_type,
                "faults": list(faults),
                "other_payment_id": other_payment_id,
                "delay_seconds": delay_seconds,
            },
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def make_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, environment="test", sandbox_gateway_url=GATEWAY_URL)


@asynccontextmanager
async def open_payment_sandbox(
    settings: Settings,
    *,
    notify_app: Any | None = None,
    now: Callable[[], datetime] | None = None,
) -> AsyncIterator[PaymentSandbox]:
    inbox = None if notify_app is not None else Inbox()
    notify_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=notify_app or inbox), base_url="http://tongka.test"
    )
    app = create_gateway(settings, notify_http=notify_http, now=now)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=settings.sandbox_gateway_url
    )
    try:
        yield PaymentSandbox(
            settings, app, app.state.gateway, build_channels(settings, http=http), http, inbox
        )
    finally:
        await app.state.gateway.drain()
        await http.aclose()
        await notify_http.aclose()


@pytest.fixture(scope="session")
def sandbox_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data dir holds the session's sandbox keys (generated on first use)."""
    return make_settings(tmp_path_factory.mktemp("payments-sandbox"))


@pytest.fixture
async def payment_sandbox(sandbox_settings: Settings) -> AsyncIterator[PaymentSandbox]:
    """A fresh gateway (empty state) with adapters wired to it; notifications to ``.inbox``."""
    async with open_payment_sandbox(sandbox_settings) as sandbox:
        yield sandbox
