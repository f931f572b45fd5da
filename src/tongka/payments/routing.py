"""Routing (聚合支付, 智能路由): which channel takes a payment, and why.

A channel is a candidate when it is enabled for the currency, supports the method, takes
the amount (its single-payment minimum and maximum), and its circuit lets a call through
(``circuit.claim_call``). Among candidates the lowest fee wins (``fees.fee_of`` with the
channel's configured schedule), then the highest preference, then the name (so the choice
is deterministic). The reason — who won on what, and why each other channel was skipped —
is recorded on the payment (``route_reason``).

A payment code scanned at the till belongs to one wallet: its prefix says which (WeChat
10–15, Alipay 25–30, UnionPay 62), and only that channel is a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.config import Settings
from tongka.money import Money, format_money
from tongka.payments import registry
from tongka.payments.channel import ChannelName, PaymentMethod
from tongka.payments.channel_config import ChannelSettings, channel_settings
from tongka.payments.circuit import Health, channel_health, claim_call
from tongka.payments.errors import ChannelNotUsable, NoChannelAvailable
from tongka.payments.fees import fee_of
from tongka.payments.models import CircuitState

MAX_REASON = 500


@dataclass(frozen=True)
class Route:
    channel: ChannelName
    fee_minor: int
    reason: str
    fallbacks: tuple[tuple[ChannelName, int], ...] = ()  # the next candidates, in order


def wallet_of_code(code: str | None) -> ChannelName | None:
    """The channel a scanned payment code belongs to, from its prefix (None: unknown)."""
    if not code or not code.isdigit():
        return None
    prefix = int(code[:2])
    if 10 <= prefix <= 15:
        return ChannelName.WECHAT
    if 25 <= prefix <= 30:
        return ChannelName.ALIPAY
    if prefix == 62:
        return ChannelName.UNIONPAY
    return None


def _money(amount_minor: int, currency: str) -> str:
    return format_money(Money.of_minor(amount_minor, currency))


def _static_refusal(
    config: ChannelSettings, settings: Settings, method: PaymentMethod, amount_minor: int
) -> str | None:
    if not config.is_enabled:
        return "disabled"
    adapter = registry.channels(settings).get(config.channel)
    if adapter is None:
        return "not configured"
    if method not in adapter.methods:
        return f"no {method.value}"
    if not config.takes(amount_minor):
        return f"amount outside {_limits(config)}"
    return None


def _limits(config: ChannelSettings) -> str:
    low = _money(config.min_amount_minor, config.currency)
    high = (
        "∞" if config.max_amount_minor is None else _money(config.max_amount_minor, config.currency)
    )
    return f"{low}–{high}"


async def choose_route(
    session: AsyncSession,
    *,
    amount_minor: int,
    currency: str,
    method: PaymentMethod,
    channel: ChannelName | None,
    payer_code: str | None,
    now: datetime,
    settings: Settings,
) -> Route:
    """The channel for this payment (see the module), or ``NoChannelAvailable`` /
    ``ChannelNotUsable`` (a named channel that cannot take it) naming every reason."""
    configs = {config.channel: config for config in await channel_settings(session, currency)}
    health = await channel_health(session)
    if channel is not None:
        return await _named(session, configs[channel], health, method, amount_minor, now, settings)
    wallet = wallet_of_code(payer_code) if method is PaymentMethod.PAYMENT_CODE else None
    skipped: list[str] = []
    usable: list[tuple[int, int, str, ChannelSettings]] = []
    for name, config in configs.items():
        if wallet is not None and name is not wallet:
            continue
        refusal = _static_refusal(config, settings, method, amount_minor)
        if refusal is None and health[name].is_open_at(now):
            refusal = f"circuit open until {health[name].opened_until:%H:%M:%S} UTC"
        if refusal is not None:
            if refusal != f"no {method.value}":  # not worth a word: it never could
                skipped.append(f"{name.value}: {refusal}")
            continue
        fee = fee_of(amount_minor, currency, config.fee)
        usable.append((fee, -config.preference, name.value, config))
    usable.sort(key=lambda item: item[:3])
    chosen: list[tuple[int, ChannelSettings]] = []
    for fee, _, _, config in usable:
        if chosen and health[config.channel].state is not CircuitState.CLOSED:
            continue  # a fallback must not take a probe it may never use
        refusal = await claim_call(session, health[config.channel], now=now, settings=settings)
        if refusal is None:
            chosen.append((fee, config))
        else:
            skipped.append(f"{config.channel.value}: {refusal}")
    if not chosen:
        raise NoChannelAvailable(
            f"no payment channel takes {method.value} of {_money(amount_minor, currency)} now"
            + (f" ({'; '.join(skipped)})" if skipped else ""),
            param="method",
            details={"method": method.value, "skipped": skipped},
        )
    (fee, best), rest = chosen[0], chosen[1:]
    why = f"{'wallet of the scanned code' if wallet else 'lowest fee'} {_money(fee, currency)}"
    if rest:
        runner_fee, runner = rest[0]
        why += (
            f", preference {best.preference} over {runner.channel.value}"
            if runner_fee == fee
            else f" (next: {runner.channel.value} {_money(runner_fee, currency)})"
        )
    reason = f"routed to {best.channel.value}: {why}"
    if skipped:
        reason += f"; skipped {', '.join(skipped)}"
    return Route(
        best.channel,
        fee,
        reason[:MAX_REASON],
        tuple((config.channel, runner_fee) for runner_fee, config in rest),
    )


async def _named(
    session: AsyncSession,
    config: ChannelSettings,
    health: dict[ChannelName, Health],
    method: PaymentMethod,
    amount_minor: int,
    now: datetime,
    settings: Settings,
) -> Route:
    refusal = _static_refusal(config, settings, method, amount_minor)
    if refusal is None:
        refusal = await claim_call(
            session,
            health[config.channel],
            now=now,
            settings=settings,
        )
    if refusal is not None:
        raise ChannelNotUsable(
            f"the channel {config.channel.value} cannot take this payment: {refusal}",
            param="channel",
            details={"channel": config.channel.value, "reason": refusal},
        )
    fee = fee_of(amount_minor, config.currency, config.fee)
    return Route(config.channel, fee, f"{config.channel.value} as requested by the caller")
