"""The sandbox payment gateway: one FastAPI app that plays WeChat Pay, Alipay, UnionPay and
the reserve bank on 127.0.0.1, each with its own keys (``tongka.payments.keys``) and message
formats, so Tongka runs the whole payment path with nothing on a real network.

Besides each channel's API it has the payer page ``/pay/{channel}/{payment_id}`` (what the
consumer console's QR code opens: confirm or cancel, pick a funding type) and, for tests,
``POST /sandbox/payments/{channel}/{payment_id}/pay`` with
``{"action": "confirm"|"cancel", "funding_type": ..., "faults": [...], "other_payment_id": ...,
"delay_seconds": ...}`` (faults: duplicate, out_of_order, delayed, wrong_amount, other_order,
forged_signature, silent). ``GET /sandbox/payments`` lists what the gateway holds.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Any

import certifi
import httpx
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from tongka.config import Settings
from tongka.payments.channel import ChannelName, FundingType
from tongka.payments.keys import channel_keys
from tongka.payments.sandbox.alipay import AlipaySandbox
from tongka.payments.sandbox.bank import BankSandbox
from tongka.payments.sandbox.base import ChannelSandbox, Faults
from tongka.payments.sandbox.batch_payouts import BatchDesk
from tongka.payments.sandbox.batch_payouts import router as batch_payouts_router
from tongka.payments.sandbox.pages import payer_page, result_page
from tongka.payments.sandbox.payouts import PayoutSimulator
from tongka.payments.sandbox.payouts import router as payouts_router
from tongka.payments.sandbox.state import GatewayPayment, GatewayState, transaction_id
from tongka.payments.sandbox.unionpay import UnionPaySandbox
from tongka.payments.sandbox.wechat import WeChatSandbox

PAYABLE_FUNDING = (FundingType.BALANCE, FundingType.DEBIT_CARD, FundingType.CREDIT_CARD)


class PayControl(BaseModel):
    action: str = Field(pattern="^(confirm|cancel)$")
    funding_type: FundingType = FundingType.BALANCE
    faults: list[str] = Field(default_factory=list)
    other_payment_id: str | None = None
    delay_seconds: float = Field(default=0.0, ge=0, le=60)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every delivery's client: building one (loading the CA bundle)
    costs more than a delivery."""
    return ssl.create_default_context(cafile=certifi.where())


class Gateway:
    """The gateway's behaviour, apart from HTTP routing: settle a payment and deliver its
    notifications (with faults)."""

    def __init__(
        self,
        settings: Settings,
        notify_http: httpx.AsyncClient | None,
        now: Callable[[], datetime] | None,
    ) -> None:
        self.state = GatewayState(now=now) if now else GatewayState()
        url = settings.sandbox_gateway_url
        self.channels: dict[ChannelName, ChannelSandbox] = {
            ChannelName.WECHAT: WeChatSandbox(
                self.state, channel_keys(settings, ChannelName.WECHAT), url
            ),
            ChannelName.ALIPAY: AlipaySandbox(
                self.state, channel_keys(settings, ChannelName.ALIPAY), url
            ),
            ChannelName.UNIONPAY: UnionPaySandbox(
                self.state, channel_keys(settings, ChannelName.UNIONPAY), url
            ),
            ChannelName.BANK_TRANSFER: BankSandbox(
                self.state, channel_keys(settings, ChannelName.BANK_TRANSFER), url
            ),
        }
        self.notify_http = notify_http
        self.background: set[asyncio.Task[Any]] = set()

    def payment(self, channel: str, payment_id: str) -> tuple[ChannelSandbox, GatewayPayment]:
        try:
            sandbox = self.channels[ChannelName(channel)]
        except ValueError:
            raise HTTPException(404, "no such channel") from None
        payment = self.state.get(sandbox.channel, payment_id)
        if payment is None:
            raise HTTPException(404, "no such payment")
        return sandbox, payment

    async def settle(self, channel: str, payment_id: str, control: PayControl) -> dict[str, Any]:
        sandbox, payment = self.payment(channel, payment_id)
        if payment.status != "PENDING":
            raise HTTPException(409, f"payment is {payment.status}")
        try:
            faults = Faults.of(
                control.faults,
                payment_id=payment_id,
                other_payment_id=control.other_payment_id,
                delay_seconds=control.delay_seconds,
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        if control.action == "cancel":
            payment.status = "CLOSED"
            return {"status": payment.status, "deliveries": []}
        payment.status, payment.paid_at = "SUCCEEDED", self.state.now()
        payment.funding_type = (
            FundingType.BANK_ACCOUNT
            if sandbox.channel == ChannelName.BANK_TRANSFER
            else control.funding_type
        )
        if not payment.transaction_id:
            payment.transaction_id = transaction_id("TX")
        if faults.silent:
            return {"status": payment.status, "deliveries": []}
        messages = sandbox.notifications(payment, faults)
        if faults.delay_seconds:
            task = asyncio.create_task(
                self._deliver_later(payment.notify_url, messages, faults.delay_seconds)
            )
            self.background.add(task)
            task.add_done_callback(self.background.discard)
            return {"status": payment.status, "deliveries": [], "scheduled": len(messages)}
        return {
            "status": payment.status,
            "deliveries": await self.deliver(payment.notify_url, messages),
        }

    async def _deliver_later(
        self, url: str, messages: list[tuple[dict[str, str], bytes]], delay: float
    ) -> None:
        await asyncio.sleep(delay)
        await self.deliver(url, messages)

    async def deliver(
        self, url: str, messages: list[tuple[dict[str, str], bytes]]
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        client = self.notify_http or httpx.AsyncClient(timeout=10.0, verify=_tls())
        try:
            for headers, body in messages:
                try:
                    response = await client.post(url, content=body, headers=headers)
                    results.append(
                        {"status_code": response.status_code, "body": response.text[:500]}
                    )
                except httpx.HTTPError as exc:
                    results.append({"status_code": None, "error": exc.__class__.__name__})
        finally:
            if self.notify_http is None:
                await client.aclose()
        return results

    async def drain(self) -> None:
        """Wait for delayed deliveries (tests)."""
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)


def create_gateway(
    settings: Settings,
    *,
    notify_http: httpx.AsyncClient | None = None,
    now: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The sandbox gateway app. ``notify_http`` delivers notifications (tests: an
    ``httpx.AsyncClient`` on ``ASGITransport(tongka_app)``); ``now`` the clock.
    ``app.state.gateway`` is the ``Gateway`` (its ``.state`` lists payments)."""
    gateway = Gateway(settings, notify_http, now)
    app = FastAPI(title="Tongka sandbox payment gateway", docs_url="/docs", redoc_url=None)
    app.state.gateway = gateway
    for sandbox in gateway.channels.values():
        app.include_router(sandbox.router())
    app.state.payouts = PayoutSimulator(now) if now else PayoutSimulator()
    app.include_router(payouts_router(app.state.payouts))
    app.state.batch_payouts = BatchDesk(app.state.payouts)
    app.include_router(batch_payouts_router(app.state.batch_payouts))

    @app.get("/pay/{channel}/{payment_id}", response_class=HTMLResponse)
    async def pay_page(channel: str, payment_id: str) -> HTMLResponse:
        sandbox, payment = gateway.payment(channel, payment_id)
        return HTMLResponse(payer_page(sandbox.channel, payment, PAYABLE_FUNDING))

    @app.post("/pay/{channel}/{payment_id}", response_class=HTMLResponse)
    async def pay_form(
        channel: str,
        payment_id: str,
        action: str = Form(...),
        funding_type: FundingType = Form(FundingType.BALANCE),
        faults: list[str] = Form(default_factory=list),
    ) -> HTMLResponse:
        try:
            outcome = await gateway.settle(
                channel,
                payment_id,
                PayControl(action=action, funding_type=funding_type, faults=faults),
            )
        except HTTPException as exc:
            return HTMLResponse(result_page(str(exc.detail), ok=False), status_code=exc.status_code)
        _, payment = gateway.payment(channel, payment_id)
        return HTMLResponse(
            result_page(outcome["status"], ok=payment.status == "SUCCEEDED", payment=payment)
        )

    @app.post("/sandbox/payments/{channel}/{payment_id}/pay")
    async def pay_control(channel: str, payment_id: str, control: PayControl) -> JSONResponse:
        return JSONResponse(await gateway.settle(channel, payment_id, control))

    @app.get("/sandbox/payments")
    async def list_payments(channel: ChannelName | None = None) -> list[dict[str, Any]]:
        return [
            {
                "channel": p.channel.value,
                "payment_id": p.payment_id,
                "amount": {"amount": p.amount_minor, "currency": p.currency},
                "status": p.status,
                "method": p.method,
                "transaction_id": p.transaction_id,
                "paid_at": p.paid_at.isoformat() if p.paid_at else None,
                "funding_type": p.funding_type.value,
                "refunded": {"amount": p.refunded_minor, "currency": p.currency},
            }
            for p in gateway.state.all(channel)
        ]

    @app.get("/healthz")
    async def health(request: Request) -> dict[str, str]:
        return {"status": "ok"}

    return app
