"""The sandbox bank's payout desk (代付): it pays merchants out of the reserve account.

Like a real bank batch-payment interface it is idempotent on the payer's key (a repeat
with the same key gets the first answer and pays nothing more), and it can go wrong the
ways real payouts do. Tests (or ``POST /sandbox/payouts/plan``) queue the outcome of the
next payouts; without a plan a payout is accepted:

- ``accept``: paid;
- ``reject``: refused at once (e.g. account closed, 户名不符), with a reason;
- ``timeout``: the request times out for the caller, but the bank did receive it: a
  query with the key answers ``accepted`` (or ``rejected`` with ``timeout_then="reject"``);
- ``return``: paid, then returned by the receiving bank (退票) ``return_after_days`` later:
  queries answer ``returned`` from then on.

In memory only, like the rest of the sandbox. ``router(simulator)`` serves it over HTTP.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field


class PayoutOutcome(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    TIMEOUT = "timeout"
    RETURN = "return"


class SandboxTimeout(Exception):
    """The caller's request timed out (the bank may or may not have the payout)."""


@dataclass(frozen=True)
class Plan:
    outcome: PayoutOutcome
    reason: str = ""
    return_after_days: int = 2
    timeout_then: PayoutOutcome = PayoutOutcome.ACCEPT


@dataclass
class SandboxPayout:
    key: str
    amount_minor: int
    currency: str
    account_name: str
    account_last4: str
    status: str  # accepted | rejected
    reference: str
    reason: str
    received_at: datetime
    returns_at: datetime | None = None

    def answer(self, now: datetime) -> dict[str, Any]:
        status = self.status
        if status == "accepted" and self.returns_at is not None and now >= self.returns_at:
            status = "returned"
        return {
            "key": self.key,
            "status": status,
            "reference": self.reference,
            "reason": "退票：收款账户状态异常" if status == "returned" else self.reason,
            "amount": {"amount": self.amount_minor, "currency": self.currency},
        }


@dataclass
class PayoutSimulator:
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    payouts: dict[str, SandboxPayout] = field(default_factory=dict)
    plans: list[Plan] = field(default_factory=list)

    def plan(self, *plans: Plan) -> None:
        """Queue the outcomes of the next new payouts, in order."""
        self.plans.extend(plans)

    def submit(
        self,
        *,
        key: str,
        amount_minor: int,
        currency: str,
        account_name: str,
        account_number: str,
    ) -> dict[str, Any]:
        """Pay (once per key); raises ``SandboxTimeout`` for a planned timeout."""
        if key in self.payouts:
            return self.payouts[key].answer(self.now())
        plan = self.plans.pop(0) if self.plans else Plan(PayoutOutcome.ACCEPT)
        outcome = plan.timeout_then if plan.outcome is PayoutOutcome.TIMEOUT else plan.outcome
        now = self.now()
        payout = SandboxPayout(
            key=key,
            amount_minor=amount_minor,
            currency=currency,
            account_name=account_name,
            account_last4=account_number[-4:],
            status="rejected" if outcome is PayoutOutcome.REJECT else "accepted",
            reference=f"BK{secrets.token_hex(8).upper()}",
            reason=(plan.reason or "收款账户已销户") if outcome is PayoutOutcome.REJECT else "",
            received_at=now,
            returns_at=(
                now + timedelta(days=plan.return_after_days)
                if outcome is PayoutOutcome.RETURN
                else None
            ),
        )
        self.payouts[key] = payout
        if plan.outcome is PayoutOutcome.TIMEOUT:
            raise SandboxTimeout(key)
        return payout.answer(now)

    def query(self, key: str) -> dict[str, Any] | None:
        payout = self.payouts.get(key)
        return None if payout is None else payout.answer(self.now())


class PayoutIn(BaseModel):
    key: str = Field(min_length=1, max_length=80)
    amount_minor: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    account_name: str = Field(min_length=1, max_length=200)
    account_number: str = Field(pattern=r"^\d{8,32}$")


class PlanIn(BaseModel):
    outcome: PayoutOutcome
    reason: str = ""
    return_after_days: int = Field(default=2, ge=0, le=30)
    timeout_then: PayoutOutcome = PayoutOutcome.ACCEPT


def router(simulator: PayoutSimulator) -> APIRouter:
    routes = APIRouter()

    @routes.post("/bank/payouts")
    async def submit(body: PayoutIn) -> dict[str, Any]:
        try:
            return simulator.submit(**body.model_dump())
        except SandboxTimeout:
            raise HTTPException(504, "timed out") from None

    @routes.get("/bank/payouts/{key}")
    async def query(key: str) -> dict[str, Any]:
        answer = simulator.query(key)
        if answer is None:
            raise HTTPException(404, "no such payout")
        return answer

    @routes.post("/sandbox/payouts/plan")
    async def plan(body: PlanIn) -> dict[str, int]:
        simulator.plan(Plan(**body.model_dump()))
        return {"planned": len(simulator.plans)}

    return routes
