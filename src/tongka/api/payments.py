"""Payments' API: channel notifications, payments, channel configuration, the reserve.

* ``POST /v1/channels/{name}/notify`` — public: a channel's signed notification, answered in
  the channel's own acknowledgement format. A forged or mismatched message changes nothing
  and gets the channel's failure answer (it will deliver again). Not in the OpenAPI
  document: it is the channels' callback, not a client API.
* ``GET /v1/payments/{payment_id}`` — a merchant sees its own payments; the platform all.
* ``GET /v1/channels`` / ``PUT /v1/channels`` — the platform configures each channel (fee,
  limits, preference, enabled) and sees its health.
* ``GET /v1/reserve`` and ``POST /v1/reserve/transfers`` — the reserve's figures, and fee
  income moved to the operating account (idempotent on ``transfer_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt

from tongka.api.cards.common import AmountIn, QuotaIn
from tongka.api.errors import ERROR_RESPONSES
from tongka.currencies import EnabledCurrency, require_enabled
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.edge.policy import Authorized, Public
from tongka.edge.schemas import ObjectId, RequestModel
from tongka.errors import InvalidRequest
from tongka.identity.principal import Principal, PrincipalKind
from tongka.money import MoneyModel
from tongka.payments import registry
from tongka.payments.channel import ChannelName, ForgedNotification
from tongka.payments.channel_config import (
    ChannelSettings,
    channel_settings,
    parse_rate,
    set_channel_settings,
)
from tongka.payments.circuit import Health, channel_health
from tongka.payments.errors import NotificationMismatch, UnknownChannel
from tongka.payments.fees import FeeSchedule
from tongka.payments.reserve import Direction, ReserveFigures, reserve_figures, transfer_reserve
from tongka.payments.service import accept_notification, get_payment
from tongka.payments.views import PaymentView
from tongka.policy import Action

log = structlog.get_logger(__name__)
router = APIRouter(responses=ERROR_RESPONSES, tags=["payments"], route_class=UnitOfWorkRoute)


def _money(amount: int, currency: str) -> MoneyModel:
    return MoneyModel(amount=amount, currency=currency)


@router.post(
    "/v1/channels/{name}/notify",
    include_in_schema=False,
    dependencies=[Public("signed by the channel")],
)
async def channel_notification(
    name: str, request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    try:
        adapter = registry.channel(settings, name)
    except UnknownChannel:
        return Response(status_code=404)
    body = await request.body()
    try:
        # no savepoint around it: accept_notification refuses (forged, mismatched) before it
        # writes anything, so a refusal leaves nothing to undo (tests/integration/
        # test_payment_notifications.py checks that a refused message changed nothing)
        ack = await accept_notification(
            session,
            adapter.name,
            dict(request.headers),
            body,
            now=clock.now(),
            settings=settings,
        )
    except (ForgedNotification, NotificationMismatch) as refused:
        log.warning("payments.notification_refused", channel=adapter.name.value, error=str(refused))
        ack = adapter.notification_ack(accepted=False)
    return Response(content=ack.body, status_code=ack.status_code, media_type=ack.media_type)


class Account(BaseModel):
    account_name: str | None = Field(description="Masked.")
    account_number: str | None = Field(description="Masked.")


class Purpose(BaseModel):
    kind: str
    id: str


class PaymentOut(BaseModel):
    object: Literal["payment"] = "payment"
    id: str
    purpose: Purpose
    merchant_id: str | None
    channel: str
    method: str
    amount: MoneyModel
    refunded: MoneyModel
    status: str
    channel_transaction_id: str | None
    funding_type: str | None
    payer: Account
    payee: Account
    route_reason: str = Field(description="Which channel routing chose, and why.")
    instructions: dict[str, Any] = Field(description="What the payer's client needs.")
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, view: PaymentView) -> PaymentOut:
        return cls(
            id=view.id,
            purpose=Purpose(kind=view.purpose_kind, id=view.purpose_id),
            merchant_id=view.merchant_id,
            channel=view.channel,
            method=view.method,
            amount=_money(view.amount_minor, view.currency),
            refunded=_money(view.refunded_minor, view.currency),
            status=view.status,
            channel_transaction_id=view.channel_transaction_id,
            funding_type=view.funding_type,
            payer=Account(
                account_name=view.payer_account_name, account_number=view.payer_account_number
            ),
            payee=Account(
                account_name=view.payee_account_name, account_number=view.payee_account_number
            ),
            route_reason=view.route_reason,
            instructions=view.instructions,
            expires_at=view.expires_at,
            paid_at=view.paid_at,
            created_at=view.created_at,
        )


@router.get("/v1/payments/{payment_id}", summary="A payment (a merchant sees its own)")
async def read_payment(
    payment_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.PAYMENT_READ)],
    session: SessionDep,
) -> PaymentOut:
    merchant_id = principal.merchant_id if principal.kind is PrincipalKind.MERCHANT else None
    if principal.kind is PrincipalKind.MERCHANT and merchant_id is None:
        merchant_id = "-"  # a merchant principal without a merchant sees nothing
    return PaymentOut.of(await get_payment(session, payment_id, merchant_id=merchant_id))


class HealthOut(BaseModel):
    state: str = Field(description="closed (calls flow), open (skipped), half_open (probing)")
    consecutive_failures: int
    opened_until: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    last_check_at: datetime | None
    last_check_ok: bool | None

    @classmethod
    def of(cls, health: Health) -> HealthOut:
        return cls(
            state=health.state.value,
            consecutive_failures=health.consecutive_failures,
            opened_until=health.opened_until,
            last_error=health.last_error,
            last_error_at=health.last_error_at,
            last_success_at=health.last_success_at,
            last_check_at=health.last_check_at,
            last_check_ok=health.last_check_ok,
        )


class ChannelOut(BaseModel):
    object: Literal["payment_channel"] = "payment_channel"
    name: str
    currency: str
    enabled: bool
    fee_rate: str = Field(description="A decimal fraction, exact (0.006 = 0.6%).")
    fee_fixed: MoneyModel
    min_amount: MoneyModel
    max_amount: MoneyModel | None
    preference: int = Field(description="Higher wins when two channels cost the same.")
    methods: list[str]
    health: HealthOut
    is_default: bool = Field(description="Never configured: the built-in defaults apply.")
    updated_at: datetime | None

    @classmethod
    def of(cls, config: ChannelSettings, health: Health, methods: list[str]) -> ChannelOut:
        currency = config.currency
        return cls(
            name=config.channel.value,
            currency=currency,
            enabled=config.is_enabled,
            fee_rate=str(config.fee.rate),
            fee_fixed=_money(config.fee.fixed_minor, currency),
            min_amount=_money(config.min_amount_minor, currency),
            max_amount=_money(config.max_amount_minor, currency)
            if config.max_amount_minor is not None
            else None,
            preference=config.preference,
            methods=methods,
            health=HealthOut.of(health),
            is_default=config.is_default,
            updated_at=config.updated_at,
        )


def _methods(settings: Any, name: ChannelName) -> list[str]:
    return sorted(method.value for method in registry.channel_methods(name))


@router.get("/v1/channels", summary="Payment channels: configuration and health (platform)")
async def list_channels(
    principal: Annotated[Principal, Authorized(Action.CHANNEL_READ)],
    session: SessionDep,
    settings: SettingsDep,
    currency: Annotated[str, Query(pattern="^[A-Z]{3}$")] = "CNY",
) -> list[ChannelOut]:
    require_enabled(currency)
    health = await channel_health(session)
    return [
        ChannelOut.of(config, health[config.channel], _methods(settings, config.channel))
        for config in await channel_settings(session, currency)
    ]


class ChannelIn(RequestModel):
    name: ChannelName
    currency: EnabledCurrency = "CNY"
    enabled: StrictBool
    fee_rate: str = Field(
        pattern=r"^\d{1,3}(\.\d{1,8})?$", examples=["0.006"], description="A decimal fraction."
    )
    fee_fixed: QuotaIn = Field(default_factory=lambda: QuotaIn(amount=0, currency="CNY"))
    min_amount: AmountIn = Field(default_factory=lambda: AmountIn(amount=1, currency="CNY"))
    max_amount: AmountIn | None = None
    preference: StrictInt = Field(default=0, ge=-1000, le=1000)


@router.put("/v1/channels", summary="Configure a payment channel (platform)")
async def put_channel(
    body: ChannelIn,
    principal: Annotated[Principal, Authorized(Action.CHANNEL_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ChannelOut:
    for field_name in ("fee_fixed", "min_amount", "max_amount"):
        amount: AmountIn | None = getattr(body, field_name)
        if amount is not None and amount.currency != body.currency:
            raise InvalidRequest(
                f"{field_name} must be in {body.currency}.",
                code="currency_mismatch",
                param=field_name,
            )
    stored = await set_channel_settings(
        session,
        ChannelSettings(
            channel=body.name,
            currency=body.currency,
            is_enabled=body.enabled,
            fee=FeeSchedule(parse_rate(body.fee_rate), body.fee_fixed.amount),
            min_amount_minor=body.min_amount.amount,
            max_amount_minor=body.max_amount.amount if body.max_amount else None,
            preference=body.preference,
        ),
        actor=principal.actor,
        now=clock.now(),
    )
    health = (await channel_health(session))[body.name]
    return ChannelOut.of(stored, health, _methods(settings, body.name))


class ReserveOut(BaseModel):
    object: Literal["reserve"] = "reserve"
    currency: str
    reserve_bank: MoneyModel = Field(description="备付金: the reserve bank account.")
    channel_receivables: dict[str, MoneyModel] = Field(
        description="Per channel: paid to it, not yet settled into the reserve (in flight)."
    )
    card_balances: MoneyModel
    card_bonuses: MoneyModel
    merchant_payables: MoneyModel
    promotion_budgets: MoneyModel
    surplus: MoneyModel = Field(description="Customer money less what is owed.")
    is_covered: bool
    fee_income: MoneyModel
    fee_income_moved: MoneyModel
    fee_income_movable: MoneyModel = Field(description="At most this may move to operating.")
    channel_fees: MoneyModel = Field(
        description="What channels kept of customer payments: the platform's cost."
    )
    shortfall: MoneyModel = Field(
        description="What the platform must put into the reserve (a to_reserve transfer)."
    )
    operating_bank: MoneyModel

    @classmethod
    def of(cls, figures: ReserveFigures) -> ReserveOut:
        from tongka.ledger import AccountCode

        currency, cover = figures.currency, figures.cover
        return cls(
            currency=currency,
            reserve_bank=_money(figures.reserve_bank_minor, currency),
            channel_receivables={
                name: _money(amount, currency) for name, amount in figures.receivables.items()
            },
            card_balances=_money(cover.amount(AccountCode.CARD), currency),
            card_bonuses=_money(cover.amount(AccountCode.CARD_BONUS), currency),
            merchant_payables=_money(cover.amount(AccountCode.MERCHANT_PAYABLE), currency),
            promotion_budgets=_money(cover.amount(AccountCode.PROMOTION_BUDGET), currency),
            surplus=_money(cover.surplus, currency),
            is_covered=cover.is_covered,
            fee_income=_money(figures.fee_income_minor, currency),
            fee_income_moved=_money(figures.moved_minor, currency),
            fee_income_movable=_money(figures.movable_minor, currency),
            channel_fees=_money(figures.channel_fees_minor, currency),
            shortfall=_money(figures.shortfall_minor, currency),
            operating_bank=_money(figures.operating_bank_minor, currency),
        )


@router.get("/v1/reserve", summary="The reserve (备付金) and whether it covers what is owed")
async def read_reserve(
    principal: Annotated[Principal, Authorized(Action.RESERVE_READ)],
    session: SessionDep,
    currency: Annotated[str, Query(pattern="^[A-Z]{3}$")] = "CNY",
) -> ReserveOut:
    require_enabled(currency)
    return ReserveOut.of(await reserve_figures(session, currency))


class ReserveTransferIn(RequestModel):
    transfer_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$", examples=["fees-2026-12"]
    )
    amount: AmountIn
    direction: Direction = Field(
        default=Direction.TO_OPERATING,
        description=(
            "to_operating: the platform's own money out (at most the surplus); to_reserve: "
            "the platform's money in, e.g. to cover channel fees (the shortfall)."
        ),
    )
    memo: str = Field(default="", max_length=200)


class ReserveTransferOut(BaseModel):
    object: Literal["reserve_transfer"] = "reserve_transfer"
    id: str
    direction: Direction
    amount: MoneyModel
    memo: str
    actor: str
    created_at: datetime


@router.post(
    "/v1/reserve/transfers",
    status_code=201,
    summary="Move the platform's money between the reserve and the operating account (三分离)",
)
async def create_reserve_transfer(
    body: ReserveTransferIn,
    principal: Annotated[Principal, Authorized(Action.RESERVE_TRANSFER)],
    session: SessionDep,
    clock: ClockDep,
) -> ReserveTransferOut:
    transfer = await transfer_reserve(
        session,
        transfer_id=body.transfer_id,
        amount_minor=body.amount.amount,
        currency=body.amount.currency,
        memo=body.memo,
        actor=principal.actor,
        now=clock.now(),
        direction=body.direction,
    )
    return ReserveTransferOut(
        id=transfer.id,
        direction=Direction(transfer.direction),
        amount=_money(transfer.amount_minor, transfer.currency),
        memo=transfer.memo,
        actor=transfer.actor,
        created_at=transfer.created_at,
    )
