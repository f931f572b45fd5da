"""``/v1/card_returns``: a card returned under the regulation (退卡).

* ``POST /v1/card_returns`` (``Idempotency-Key``: a replay answers the first return) — the
  holder returns one of their cards to a bank account in their own name; a merchant of the
  card's issuer does it on the holder's behalf (its console, or its till — which may also
  pay cash for ¥100 or less, ``method: cash``). The card is closed at once; a bank payout
  follows (``status`` ``paying`` → ``paid`` / ``rejected``).
* ``POST /v1/card_returns/{return_id}/retries`` (``Idempotency-Key``: a replay answers the
  first answer) — the bank rejected the payout or returned it (退票): the holder, or the
  platform's finance for them, names another bank account in the holder's verified name
  and the payout is sent again, once per request (``sales.return_retries``).
* ``GET /v1/card_returns`` (newest first) and ``GET /v1/card_returns/{return_id}`` — in the
  caller's scope (the holder's, the issuer's, a till's store's; the platform sees all).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import HEADER, IdempotentRoute
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.no_store import SecretField
from tongka.edge.pagination import ListResponse, PageParamsDep, fetch_page
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, ObjectId, RequestModel
from tongka.identity.merchants import masked_account_number
from tongka.identity.principal import Principal, PrincipalKind
from tongka.ids import new_id
from tongka.money import MoneyModel
from tongka.policy import Action, scope_of
from tongka.sales.card_returns import (
    BankAccount,
    ReturnRequest,
    card_returns_query,
    get_card_return,
    start_return,
)
from tongka.sales.return_models import CardReturn
from tongka.sales.return_retries import RetryRequest, retry_return
from tongka.sales.return_rules import ReturnMethod

router = APIRouter(responses=ERROR_RESPONSES, tags=["card_returns"], route_class=IdempotentRoute)


class BankAccountIn(RequestModel):
    bank_name: str = Field(max_length=100, examples=["中国工商银行上海分行"])
    account_name: str = Field(
        max_length=100, description="The holder's own name (their verified name)."
    )
    account_number: str = SecretField(max_length=40, description="8 to 32 digits; kept sealed.")


class CardReturnIn(RequestModel):
    card_id: str = Field(pattern=ID_PATTERN)
    method: ReturnMethod = Field(
        default=ReturnMethod.BANK_ACCOUNT,
        description="bank_account (any amount), or cash at a merchant's till (¥100 or less).",
    )
    bank_account: BankAccountIn | None = Field(default=None, description="bank_account only.")


class CardReturnRetryIn(RequestModel):
    bank_account: BankAccountIn = Field(
        description="Another account in the holder's own name (their verified name)."
    )


class CardReturnOut(BaseModel):
    object: Literal["card_return"] = "card_return"
    id: str
    card_id: str
    merchant_id: str
    holder_id: str | None
    method: str
    status: str = Field(description="paying, unknown, paid, rejected; paid_cash at a till.")
    amount: MoneyModel = Field(description="The paid value paid out.")
    bonus_forfeited: MoneyModel = Field(description="Bonus never pays out: back to its funder.")
    bank_name: str | None
    account_name: str | None = Field(description="Masked.")
    account_number: str | None = Field(description="Masked.")
    failure_reason: str | None
    attempt: int = Field(description="1, then one more per retry of the payout.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: CardReturn) -> CardReturnOut:
        return cls(
            id=row.id,
            card_id=row.card_id,
            merchant_id=row.merchant_id,
            holder_id=row.holder_id,
            method=row.method,
            status=row.status,
            amount=MoneyModel(amount=row.amount_minor, currency=row.currency),
            bonus_forfeited=MoneyModel(amount=row.bonus_minor, currency=row.currency),
            bank_name=row.bank_name,
            account_name=row.account_name,
            account_number=masked_account_number(row.account_last4),
            failure_reason=row.failure_reason,
            attempt=row.attempt,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def return_id_of(principal: Principal, key: str, prefix: str = "ret") -> str:
    """Stable per caller and Idempotency-Key (none: a new id)."""
    if not key:
        return new_id(prefix)
    return f"{prefix}_" + hashlib.sha256(f"{principal.actor}\n{key}".encode()).hexdigest()[:40]


@router.post("/v1/card_returns", status_code=201, summary="Return a card (退卡)")
async def create(
    body: CardReturnIn,
    request: Request,
    principal: Annotated[Principal, Authorized(Action.CARD_RETURN_CREATE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> CardReturnOut:
    is_holder = principal.kind is PrincipalKind.CONSUMER
    account = body.bank_account
    row = await start_return(
        session,
        ReturnRequest(
            card_id=body.card_id,
            method=body.method,
            actor=principal.actor,
            account=(
                BankAccount(account.bank_name, account.account_name, account.account_number)
                if account is not None
                else None
            ),
            merchant_id=None if is_holder else principal.merchant_id,
            store_id=None if is_holder else principal.store_id,
            holder_id=principal.consumer_id if is_holder else None,
        ),
        return_id=return_id_of(principal, request.headers.get(HEADER, "")),
        now=clock.now(),
        settings=settings,
    )
    return CardReturnOut.of(row)


@router.post(
    "/v1/card_returns/{return_id}/retries",
    status_code=201,
    summary="Send a rejected or returned payout again, to another account",
)
async def retry(
    return_id: ObjectId,
    body: CardReturnRetryIn,
    request: Request,
    principal: Annotated[Principal, Authorized(Action.CARD_RETURN_RETRY)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> CardReturnOut:
    account = body.bank_account
    row = await retry_return(
        session,
        RetryRequest(
            return_id=return_id,
            account=BankAccount(account.bank_name, account.account_name, account.account_number),
            actor=principal.actor,
            holder_id=scope_of(principal).holder_id,
        ),
        retry_id=return_id_of(principal, request.headers.get(HEADER, ""), prefix="rrt"),
        now=clock.now(),
        settings=settings,
    )
    return CardReturnOut.of(row)


@router.get("/v1/card_returns", summary="Card returns, newest first")
async def list_returns(
    principal: Annotated[Principal, Authorized(Action.CARD_RETURN_READ)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[CardReturnOut]:
    scope = scope_of(principal)
    statement = card_returns_query(
        merchant_id=scope.merchant_id, holder_id=scope.holder_id, store_id=scope.store_id
    )
    return await fetch_page(session, statement, page, CardReturn, CardReturnOut.of)


@router.get("/v1/card_returns/{return_id}", summary="One card return")
async def get_one(
    return_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.CARD_RETURN_READ)],
    session: SessionDep,
) -> CardReturnOut:
    scope = scope_of(principal)
    row = await get_card_return(
        session,
        return_id,
        merchant_id=scope.merchant_id,
        holder_id=scope.holder_id,
        store_id=scope.store_id,
    )
    return CardReturnOut.of(row)
