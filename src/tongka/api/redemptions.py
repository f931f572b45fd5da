"""``/v1/redemptions`` and ``/v1/authorizations``: spending a card at a till or online.

A decline is an answer, not an error (``docs/decisions/0012-redemption-answers.md``):
HTTP 200 with ``status: "declined"`` and a ``decline_code``, recorded and committed
(wrong-secret counters included), and stored by the idempotency layer like an approval.
Requests that cannot be answered at all (a malformed allocation, a store not the caller's)
are errors as everywhere else.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.api.cards.common import MAX_MINOR, AmountIn, money
from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import HEADER, IdempotentRoute
from tongka.api.identity.schemas import fetch_page
from tongka.cards.keys import card_keys
from tongka.cards.models import Card, CardProduct
from tongka.config import Settings
from tongka.edge.coalescing import coalesced
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.no_store import SecretField
from tongka.edge.pagination import ListResponse, PageParamsDep
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, ObjectId, RequestModel
from tongka.errors import InvalidRequest
from tongka.identity.principal import Principal
from tongka.money import MoneyModel
from tongka.policy import Action, scope_of
from tongka.redemption import aftercare, fees, service
from tongka.redemption.errors import RedemptionNotFound, StoreNotAllowed
from tongka.redemption.models import Redemption

router = APIRouter(responses=ERROR_RESPONSES, tags=["redemptions"], route_class=IdempotentRoute)


class CardIn(RequestModel):
    number: str | None = Field(default=None, min_length=8, max_length=32)
    secret: str | None = SecretField(default=None, max_length=32, description="The card's secret.")
    payment_code: str | None = Field(default=None, max_length=64)
    share: StrictInt | None = Field(default=None, gt=0, le=MAX_MINOR)


class RedeemIn(RequestModel):
    amount: AmountIn
    store_id: str | None = Field(default=None, pattern=ID_PATTERN)
    terminal_id: str | None = Field(default=None, pattern=ID_PATTERN)
    cards: list[CardIn] = Field(min_length=1, max_length=10)
    allow_partial: bool = False
    challenge_id: str | None = Field(default=None, max_length=64)
    challenge_code: str | None = SecretField(
        default=None, max_length=12, description="The code texted to the holder."
    )


class AuthorizeIn(RedeemIn):
    hold_seconds: int | None = Field(default=None, ge=1, le=7 * 86400)


class RedemptionOut(BaseModel):
    object: Literal["redemption", "authorization"]
    id: str
    status: str
    decline_code: str | None
    purchase_id: str | None
    card_id: str | None
    store_id: str | None
    terminal_id: str | None
    requested: MoneyModel
    amount: MoneyModel
    paid: MoneyModel
    bonus: MoneyModel
    fee: MoneyModel
    refunded: MoneyModel
    balance_after: MoneyModel | None
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, r: Redemption, now: datetime | None = None) -> RedemptionOut:
        c = r.currency
        status = aftercare.shown_status(r, now) if now is not None else r.status
        return cls(
            object="authorization" if r.kind == "authorization" else "redemption",
            id=r.id,
            status=status,
            decline_code=r.decline_code,
            purchase_id=r.purchase_id,
            card_id=r.card_id,
            store_id=r.store_id,
            terminal_id=r.terminal_id,
            requested=money(r.requested, c),
            amount=money(r.amount, c),
            paid=money(r.paid, c),
            bonus=money(r.bonus, c),
            fee=money(r.fee, c),
            refunded=money(r.refunded, c),
            balance_after=None if r.balance_after is None else money(r.balance_after, c),
            expires_at=r.expires_at,
            created_at=r.created_at,
        )


class PurchaseOut(BaseModel):
    object: Literal["purchase"] = "purchase"
    id: str
    status: Literal["approved", "declined"]
    decline_code: str | None
    amount: MoneyModel
    taken: MoneyModel
    remaining: MoneyModel
    allocation: list[RedemptionOut]
    challenge_id: str | None = None


def purchase_out(purchase: service.Purchase, now: datetime) -> PurchaseOut:
    c = purchase.currency
    return PurchaseOut(
        id=purchase.id,
        status="declined" if purchase.status == "declined" else "approved",
        decline_code=purchase.decline_code,
        amount=money(purchase.amount, c),
        taken=money(purchase.taken, c),
        remaining=money(purchase.remaining, c),
        allocation=[RedemptionOut.of(r, now) for r in purchase.redemptions],
        challenge_id=purchase.challenge_id,
    )


async def _resolve(
    session: SessionDep, settings: Settings, card: CardIn, now: datetime
) -> service.CardCredential:
    if card.payment_code is not None:
        # the ``controls`` part's module (payment codes); absent until merged
        try:
            payment_codes = importlib.import_module("tongka.redemption.payment_codes")
        except ModuleNotFoundError as missing:
            raise InvalidRequest(
                "Payment codes are not available yet; use the card number and secret.",
                code="payment_codes_unavailable",
                param="cards",
            ) from missing
        card_id = await payment_codes.resolve_payment_code(session, card.payment_code, now=now)
        return service.CardCredential(card_id=card_id, share=card.share)
    return service.CardCredential(number=card.number, secret=card.secret, share=card.share)


async def _redeem(
    body: RedeemIn,
    kind: str,
    request: Request,
    principal: Principal,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    hold_seconds: int | None = None,
) -> PurchaseOut:
    now = clock.now()
    merchant_id = _merchant(principal)
    store_id = body.store_id
    if principal.store_id is not None:
        if store_id not in (None, principal.store_id):
            raise StoreNotAllowed("This key redeems only at its own store.", param="store_id")
        store_id = principal.store_id
    purchase = await service.redeem(
        session,
        service.RedeemRequest(
            merchant_id=merchant_id,
            store_id=store_id,
            terminal_id=body.terminal_id,
            idempotency_key=request.headers.get(HEADER, ""),
            amount=body.amount.amount,
            currency=body.amount.currency,
            cards=[await _resolve(session, settings, card, now) for card in body.cards],
            actor=principal.actor,
            allow_partial=body.allow_partial,
            kind=kind,
            via_payment_code=any(card.payment_code is not None for card in body.cards),
            challenge_id=body.challenge_id,
            challenge_code=body.challenge_code,
            hold_seconds=hold_seconds or settings.redemption_hold_seconds,
        ),
        keys=card_keys(settings),
        fee_rate=await _fees(
            session,
            merchant_id,
            default_rate=settings.redemption_fee_rate,
            timezone=settings.timezone,
            now=now,
        ),
        now=now,
        settings=settings,
    )
    if purchase.status == "declined" and not purchase.is_replay:
        await _give_back_codes(session, body)
    return purchase_out(purchase, now)


async def _give_back_codes(session: SessionDep, body: RedeemIn) -> None:
    """A declined purchase commits its answer, so it must not burn the holder's codes."""
    from tongka.redemption.payment_codes import give_back_payment_code

    for card in body.cards:
        if card.payment_code is not None:
            await give_back_payment_code(session, card.payment_code)


async def _fees(
    session: AsyncSession,
    merchant_id: str,
    *,
    default_rate: Decimal,
    timezone: str,
    now: datetime,
    issuer_merchant_id: str | None = None,
) -> Decimal:
    """The merchant's contract fee terms (or the default rate). Every use of ``fee_rate``
    in redemption goes through ``fees.fee_of``, which takes both; the services still
    annotate ``Decimal`` until their rework lands (then: ``fees.FeeRate``)."""
    found = await fees.redemption_fees(
        session,
        merchant_id,
        default_rate=default_rate,
        timezone=timezone,
        now=now,
        issuer_merchant_id=issuer_merchant_id,
    )
    return cast(Decimal, found)


@router.post("/v1/redemptions", summary="Redeem: approved, or declined with a code (HTTP 200)")
@coalesced
async def create_redemption(
    body: RedeemIn,
    request: Request,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_CREATE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PurchaseOut:
    return await _redeem(body, "redemption", request, principal, session, settings, clock)


@router.post("/v1/authorizations", summary="Hold value on a card (capture or void later)")
@coalesced
async def create_authorization(
    body: AuthorizeIn,
    request: Request,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_CREATE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PurchaseOut:
    return await _redeem(
        body, "authorization", request, principal, session, settings, clock, body.hold_seconds
    )


def _merchant(principal: Principal) -> str:
    """Only merchants redeem (the policy table grants no one else)."""
    assert principal.merchant_id is not None
    return principal.merchant_id


async def _get(
    session: SessionDep,
    principal: Principal,
    redemption_id: str,
    *,
    kind: str | None = None,
    lock: bool = True,
) -> Redemption:
    """The caller's redemption, locked for a change (refund, capture, void) unless read."""
    record = await session.get(Redemption, redemption_id, with_for_update=lock)
    scope = scope_of(principal)
    if (
        record is None
        or (kind is not None and record.kind != kind)
        or not scope.reaches(merchant_id=record.merchant_id, store_id=record.store_id)
    ):
        raise RedemptionNotFound("No such redemption.", details={"object": "redemption"})
    return record


@router.get("/v1/redemptions", summary="Redemptions and authorizations, newest first")
async def list_redemptions(
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_READ)],
    session: SessionDep,
    page: PageParamsDep,
    clock: ClockDep,
    card_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> ListResponse[RedemptionOut]:
    scope = scope_of(principal)
    statement = select(Redemption).where(Redemption.merchant_id == scope.merchant())
    store = scope.store()
    if store is not None:
        statement = statement.where(Redemption.store_id == store)
    if card_id is not None:
        statement = statement.where(Redemption.card_id == card_id)
    now = clock.now()
    return await fetch_page(
        session, statement, page, Redemption, lambda r: RedemptionOut.of(r, now)
    )


@router.get("/v1/redemptions/{redemption_id}", summary="One redemption or authorization")
async def get_redemption(
    redemption_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_READ)],
    session: SessionDep,
    clock: ClockDep,
) -> RedemptionOut:
    record = await _get(session, principal, redemption_id, lock=False)
    return RedemptionOut.of(record, clock.now())


class RefundIn(RequestModel):
    amount: AmountIn | None = Field(default=None, description="Omitted: all that is left.")
    reason: str | None = Field(default=None, max_length=500)


class RefundOut(BaseModel):
    object: Literal["redemption_refund"] = "redemption_refund"
    id: str
    redemption_id: str
    amount: MoneyModel
    paid: MoneyModel
    bonus: MoneyModel
    redemption: RedemptionOut


@router.post(
    "/v1/redemptions/{redemption_id}/refunds", status_code=201, summary="Refund onto the card"
)
async def refund_redemption(
    redemption_id: ObjectId,
    body: RefundIn,
    request: Request,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_REFUND)],
    session: SessionDep,
    clock: ClockDep,
) -> RefundOut:
    now = clock.now()
    record = await _get(session, principal, redemption_id)
    amount = record.amount - record.refunded if body.amount is None else body.amount.amount
    row = await aftercare.refund(
        session,
        record,
        amount,
        refund_key=request.headers.get(HEADER, ""),
        reason=body.reason,
        actor=principal.actor,
        now=now,
    )
    c = record.currency
    return RefundOut(
        id=row.id,
        redemption_id=record.id,
        amount=money(row.amount, c),
        paid=money(row.paid, c),
        bonus=money(row.bonus, c),
        redemption=RedemptionOut.of(record, now),
    )


class ReversalIn(RequestModel):
    idempotency_key: str = Field(min_length=1, max_length=255, description="The original's key.")


class ReversalOut(BaseModel):
    object: Literal["reversal"] = "reversal"
    idempotency_key: str
    outcome: str
    redemptions: list[RedemptionOut]


@router.post("/v1/redemptions/reversals", summary="Reverse (冲正) by the original's key")
async def reverse_redemption(
    body: ReversalIn,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_REVERSE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ReversalOut:
    now = clock.now()
    outcome = await aftercare.reverse(
        session,
        _merchant(principal),
        body.idempotency_key,
        actor=principal.actor,
        now=now,
        settings=settings,
    )
    return ReversalOut(
        idempotency_key=body.idempotency_key,
        outcome=outcome.outcome,
        redemptions=[RedemptionOut.of(r, now) for r in outcome.redemptions],
    )


class CaptureIn(RequestModel):
    amount: AmountIn | None = Field(default=None, description="Omitted: the whole hold.")


@router.post("/v1/authorizations/{authorization_id}/capture", summary="Take all or less of a hold")
async def capture_authorization(
    authorization_id: ObjectId,
    body: CaptureIn,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_CREATE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> RedemptionOut:
    now = clock.now()
    record = await _get(session, principal, authorization_id, kind="authorization")
    card = await session.get(Card, record.card_id) if record.card_id else None
    product = await session.get(CardProduct, card.product_id) if card else None
    await aftercare.capture(
        session,
        record,
        None if body.amount is None else body.amount.amount,
        fee_rate=await _fees(
            session,
            record.merchant_id,
            default_rate=settings.redemption_fee_rate,
            timezone=settings.timezone,
            now=now,
            issuer_merchant_id=card.merchant_id if card else None,
        ),
        bonus_first=product is not None and service.is_bonus_spent_first(product),
        actor=principal.actor,
        now=now,
    )
    return RedemptionOut.of(record, now)


@router.post("/v1/authorizations/{authorization_id}/void", summary="Release a hold")
async def void_authorization(
    authorization_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.REDEMPTION_CREATE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> RedemptionOut:
    now = clock.now()
    record = await _get(session, principal, authorization_id, kind="authorization")
    await aftercare.void(session, record, actor=principal.actor, now=now, settings=settings)
    return RedemptionOut.of(record, now)
