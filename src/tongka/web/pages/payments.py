"""Platform pages for payments: 支付渠道 (channels: health, fees, limits, routing preference,
enable/disable) and 备付金 (the reserve's figures and the fee-income transfer, 三分离)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Response
from sqlalchemy import select

from tongka.errors import InvalidRequest
from tongka.payments import registry
from tongka.payments.channel import ChannelName
from tongka.payments.channel_config import (
    ChannelSettings,
    channel_settings,
    parse_rate,
    set_channel_settings,
    settings_of,
)
from tongka.payments.circuit import channel_health
from tongka.payments.errors import UnknownChannel
from tongka.payments.fees import FeeSchedule
from tongka.payments.models import ReserveTransfer
from tongka.payments.reserve import Direction, reserve_figures, transfer_reserve
from tongka.policy import Action
from tongka.web.console import Console, FormDep, console_router, form_text, whole_number
from tongka.web.forms import (
    attempt_and_redirect,
    log_reason,
    money_minor,
    percent_fraction,
    required_reason,
)
from tongka.web.i18n import N_
from tongka.web.lists import Column, ListSpec, date_range
from tongka.web.pages.listing import Allowed

router = console_router()
CHANNELS_URL = "/console/channels"
RESERVE_URL = "/console/reserve"
CURRENCY = "CNY"

TRANSFERS = ListSpec(
    name="reserve_transfers",
    id_column=ReserveTransfer.id,
    columns=[
        Column(
            "created_at",
            N_("Moved at"),
            sort=ReserveTransfer.created_at,
            csv=lambda row, x: row.created_at,
        ),
        Column(
            "amount",
            N_("Amount"),
            sort=ReserveTransfer.amount_minor,
            csv=lambda row, x: row.amount_minor,
        ),
        Column("memo", N_("Memo"), csv=lambda row, x: row.memo),
        Column("actor", N_("By"), csv=lambda row, x: row.actor),
    ],
    filters=[date_range("created", N_("Moved at"), ReserveTransfer.created_at)],
)


def _channel(name: str) -> ChannelName:
    try:
        return ChannelName(name)
    except ValueError:
        raise UnknownChannel("There is no such payment channel.", param="channel") from None


@router.get("/channels")
async def channels_page(console: Annotated[Console, Allowed(Action.CHANNEL_READ)]) -> Response:
    health = await channel_health(console.session)
    rows = [
        {
            "config": config,
            "percent": _plain(config.fee.rate * 100),
            "fixed": _yuan(config.fee.fixed_minor),
            "min": _yuan(config.min_amount_minor),
            "max": _yuan(config.max_amount_minor) if config.max_amount_minor is not None else "",
            "health": health[config.channel],
            "methods": sorted(m.value for m in registry.channel_methods(config.channel)),
        }
        for config in await channel_settings(console.session, CURRENCY)
    ]
    return console.render("payment_channels.html", rows=rows, currency=CURRENCY)


def _plain(value: Decimal) -> str:
    """A decimal as people type it: ``0.6``, ``10``, never ``1E+1``."""
    text = format(value.normalize(), "f")
    return text


def _yuan(minor: int) -> str:
    return _plain(Decimal(minor) / 100)


def _rate(form: Any) -> Decimal:
    fraction = percent_fraction(form, "fee_rate_percent")
    if fraction is None:
        raise InvalidRequest(
            "Type a decimal number, e.g. 0.9.", code="not_a_decimal", param="fee_rate_percent"
        )
    try:
        return parse_rate(fraction)
    except InvalidRequest as refused:
        refused.param = "fee_rate_percent"
        raise


@router.post("/channels/{name}")
async def save_channel(
    name: str, console: Annotated[Console, Allowed(Action.CHANNEL_MANAGE)], form: FormDep
) -> Response:
    channel = _channel(name)

    async def work() -> ChannelSettings:
        current = await settings_of(console.session, channel, CURRENCY)
        return await set_channel_settings(
            console.session,
            ChannelSettings(
                channel=channel,
                currency=CURRENCY,
                is_enabled=current.is_enabled,
                fee=FeeSchedule(_rate(form), money_minor(form, "fee_fixed", CURRENCY) or 0),
                min_amount_minor=money_minor(form, "min_amount", CURRENCY) or 0,
                max_amount_minor=money_minor(form, "max_amount", CURRENCY, required=False),
                preference=whole_number(form, "preference", low=None),
            ),
            actor=console.signed_in.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=CHANNELS_URL,
        success=N_("The channel's settings are saved."),
    )


async def _switch(console: Console, channel: ChannelName, *, enabled: bool) -> ChannelSettings:
    current = await settings_of(console.session, channel, CURRENCY)
    return await set_channel_settings(
        console.session,
        ChannelSettings(**{**current.__dict__, "is_enabled": enabled}),
        actor=console.signed_in.actor,
        now=console.now,
    )


@router.post("/channels/{name}/disable")
async def disable_channel(
    name: str, console: Annotated[Console, Allowed(Action.CHANNEL_MANAGE)], form: FormDep
) -> Response:
    """Routing stops using the channel; payments under way finish (with a reason, logged)."""
    channel = _channel(name)

    async def work() -> ChannelSettings:
        reason = required_reason(form)
        switched = await _switch(console, channel, enabled=False)
        log_reason(console, "payment_channel.disable", channel.value, reason)
        return switched

    return await attempt_and_redirect(
        console, work, form, success_url=CHANNELS_URL, success=N_("The channel is disabled.")
    )


@router.post("/channels/{name}/enable")
async def enable_channel(
    name: str, console: Annotated[Console, Allowed(Action.CHANNEL_MANAGE)], form: FormDep
) -> Response:
    channel = _channel(name)

    async def work() -> ChannelSettings:
        return await _switch(console, channel, enabled=True)

    return await attempt_and_redirect(
        console, work, form, success_url=CHANNELS_URL, success=N_("The channel is enabled.")
    )


@router.get("/reserve")
async def reserve_page(console: Annotated[Console, Allowed(Action.RESERVE_READ)]) -> Response:
    figures = await reserve_figures(console.session, CURRENCY)
    statement = select(ReserveTransfer).where(ReserveTransfer.currency == CURRENCY)
    return await TRANSFERS.render(
        console,
        statement,
        "reserve.html",
        figures=figures,
        cover=figures.cover,
        currency=CURRENCY,
        transfer_token=f"web-{secrets.token_hex(8)}",
        funding_token=f"web-{secrets.token_hex(8)}",
    )


@router.post("/reserve/transfers")
async def move_fee_income(
    console: Annotated[Console, Allowed(Action.RESERVE_TRANSFER)], form: FormDep
) -> Response:
    """The token was made with the form: a double submit moves the money once."""
    to_reserve = form_text(form, "direction") == Direction.TO_RESERVE
    direction = Direction.TO_RESERVE if to_reserve else Direction.TO_OPERATING

    async def work() -> ReserveTransfer:
        return await transfer_reserve(
            console.session,
            transfer_id=form_text(form, "transfer_id")[:64] or f"web-{secrets.token_hex(8)}",
            amount_minor=money_minor(form, "amount", CURRENCY) or 0,
            currency=CURRENCY,
            memo=form_text(form, "memo")[:200],
            actor=console.signed_in.actor,
            now=console.now,
            direction=direction,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=RESERVE_URL,
        success=(
            N_("The fee income is moved to the operating account.")
            if direction is Direction.TO_OPERATING
            else N_("The platform's money is in the reserve.")
        ),
    )
