"""How settlement reaches a payout channel: submit an order under its idempotency key,
query it later. ``SimulatorChannel`` talks to the sandbox bank's payout desk in process
(tests, the embedded default); ``HttpPayoutChannel`` to the sandbox gateway over HTTP
(``settings.sandbox_gateway_url``) — a real bank's adapter takes the same two calls.
``FilePayoutChannel`` answers neither: its orders go out in the day's bank batch payment
file and their answers come back in the bank's result file (``payout_file.py``).
``settings.payout_channel`` picks one (``channel_of``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from tongka.config import Settings
from tongka.payments.sandbox.payouts import PayoutSimulator, SandboxTimeout


class PayoutTimedOut(Exception):
    """No answer: the channel may or may not have the payout (query it by its key)."""


@dataclass(frozen=True)
class PayoutOrder:
    key: str
    amount_minor: int
    currency: str
    bank_name: str
    account_name: str
    account_number: str


@dataclass(frozen=True)
class PayoutAnswer:
    status: str  # accepted | rejected | returned | unknown (no such key, or no answer)
    reference: str | None = None
    reason: str | None = None


class PayoutChannel(Protocol):
    async def submit(self, order: PayoutOrder) -> PayoutAnswer: ...

    async def query(self, key: str) -> PayoutAnswer: ...


def _answer(data: dict[str, Any] | None) -> PayoutAnswer:
    if data is None:
        return PayoutAnswer("unknown")
    return PayoutAnswer(str(data["status"]), data.get("reference"), data.get("reason") or None)


@dataclass
class SimulatorChannel:
    simulator: PayoutSimulator

    async def submit(self, order: PayoutOrder) -> PayoutAnswer:
        try:
            return _answer(
                self.simulator.submit(
                    key=order.key,
                    amount_minor=order.amount_minor,
                    currency=order.currency,
                    account_name=order.account_name,
                    account_number=order.account_number,
                )
            )
        except SandboxTimeout:
            raise PayoutTimedOut(order.key) from None

    async def query(self, key: str) -> PayoutAnswer:
        return _answer(self.simulator.query(key))


@dataclass
class HttpPayoutChannel:
    base_url: str
    http: httpx.AsyncClient

    async def submit(self, order: PayoutOrder) -> PayoutAnswer:
        try:
            response = await self.http.post(
                f"{self.base_url}/bank/payouts",
                json={
                    "key": order.key,
                    "amount_minor": order.amount_minor,
                    "currency": order.currency,
                    "account_name": order.account_name,
                    "account_number": order.account_number,
                },
            )
        except httpx.TransportError:  # a timeout, or no answer at all: ask again later
            raise PayoutTimedOut(order.key) from None
        if response.status_code == 504:
            raise PayoutTimedOut(order.key)
        response.raise_for_status()
        return _answer(response.json())

    async def query(self, key: str) -> PayoutAnswer:
        try:
            response = await self.http.get(f"{self.base_url}/bank/payouts/{key}")
        except httpx.TransportError:  # the desk does not answer now: the next run asks again
            return PayoutAnswer("unknown")
        if response.status_code == 404:
            return PayoutAnswer("unknown")
        response.raise_for_status()
        return _answer(response.json())


class FilePayoutChannel:
    """批量代付文件: a payout is written into the day's file, not sent; until the bank's
    result file is imported every answer is "unknown" (the payout stays open, and a
    later run asks again and gets "unknown" again: nothing is sent twice)."""

    async def submit(self, order: PayoutOrder) -> PayoutAnswer:
        return PayoutAnswer("unknown")

    async def query(self, key: str) -> PayoutAnswer:
        return PayoutAnswer("unknown")


def channel_of(settings: Settings, http: httpx.AsyncClient) -> PayoutChannel:
    """The payout channel ``settings.payout_channel`` names (default: ``http``)."""
    if settings.payout_channel == "file":
        return FilePayoutChannel()
    return HttpPayoutChannel(settings.sandbox_gateway_url, http)
