"""``/v1/balance_inquiries``: the public balance check (no sign-in; strictly limited).

The balance inquiry creates nothing and must commit its attempt counters even when it
refuses, so it runs in its own transaction, outside the idempotency mechanism.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tongka.api.cards.common import BalanceOut, balance_out
from tongka.api.errors import ERROR_RESPONSES
from tongka.cards import numbers, service
from tongka.cards.keys import card_keys
from tongka.edge.callers import client_address
from tongka.edge.deps import ClockDep, DatabaseDep, SettingsDep
from tongka.edge.policy import Public
from tongka.edge.schemas import RequestModel

public_router = APIRouter(responses=ERROR_RESPONSES, tags=["cards"])


class InquiryRequest(RequestModel):
    number: str = Field(min_length=12, max_length=32)
    secret: str = Field(min_length=1, max_length=32)


class InquiryOut(BaseModel):
    object: Literal["balance_inquiry"] = "balance_inquiry"
    masked_number: str
    status: str
    balance: BalanceOut
    expires_at: datetime | None


@public_router.post(
    "/v1/balance_inquiries",
    summary="Check a card's balance with its number and secret (no sign-in; strictly limited)",
    dependencies=[Public("the card's number and secret are the credential")],
)
async def balance_inquiry(
    body: InquiryRequest,
    request: Request,
    database: DatabaseDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> InquiryOut:
    client = client_address(request)
    answer = await service.inquire_balance(
        database,
        body.number,
        body.secret,
        client=client,
        keys=card_keys(settings),
        now=clock.now(),
    )
    card, balance = answer.card, answer.balance
    return InquiryOut(
        masked_number=numbers.mask(card.bin_prefix, card.last4, card.number_length),
        status=card.status,
        balance=balance_out(balance, card.currency),
        expires_at=card.expires_at,
    )
