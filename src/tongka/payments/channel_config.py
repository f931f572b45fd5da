"""The platform's configuration of each channel (per currency): enabled, fee (a ``Decimal``
rate plus a fixed part), single-payment limits, and a routing preference.

A channel without a stored row uses ``DEFAULT_CONFIGS`` (the sandbox channels' own rates,
every channel enabled), so a fresh installation can take payments at once. Setting a
channel stores the whole row, validated, with who set it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.payments.channel import ChannelName
from tongka.payments.errors import InvalidChannelLimits
from tongka.payments.fees import FeeSchedule, check_fee_schedule
from tongka.payments.models import ChannelConfig


@dataclass(frozen=True)
class ChannelSettings:
    channel: ChannelName
    currency: str
    is_enabled: bool
    fee: FeeSchedule
    min_amount_minor: int
    max_amount_minor: int | None
    preference: int  # higher wins when two channels cost the same
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def is_default(self) -> bool:
        return self.updated_at is None

    def takes(self, amount_minor: int) -> bool:
        return self.min_amount_minor <= amount_minor and (
            self.max_amount_minor is None or amount_minor <= self.max_amount_minor
        )


def _default(channel: ChannelName, rate: str, preference: int) -> ChannelSettings:
    return ChannelSettings(channel, "CNY", True, FeeSchedule(Decimal(rate)), 1, None, preference)


DEFAULT_CONFIGS: dict[ChannelName, ChannelSettings] = {
    ChannelName.WECHAT: _default(ChannelName.WECHAT, "0.006", 30),
    ChannelName.ALIPAY: _default(ChannelName.ALIPAY, "0.006", 20),
    ChannelName.UNIONPAY: _default(ChannelName.UNIONPAY, "0.005", 10),
    ChannelName.BANK_TRANSFER: _default(ChannelName.BANK_TRANSFER, "0", 10),
    ChannelName.CASH: _default(ChannelName.CASH, "0", 10),
}


def _from_row(row: ChannelConfig) -> ChannelSettings:
    return ChannelSettings(
        channel=ChannelName(row.channel),
        currency=row.currency,
        is_enabled=row.is_enabled,
        fee=FeeSchedule(Decimal(row.fee_rate), row.fee_fixed_minor),
        min_amount_minor=row.min_amount_minor,
        max_amount_minor=row.max_amount_minor,
        preference=row.preference,
        updated_at=ensure_utc(row.updated_at),
        updated_by=row.updated_by,
    )


def _default_for(channel: ChannelName, currency: str) -> ChannelSettings:
    base = DEFAULT_CONFIGS[channel]
    if currency == base.currency:
        return base
    # the channels here take CNY only: another currency is off until configured
    return ChannelSettings(channel, currency, False, base.fee, 1, None, base.preference)


async def channel_settings(session: AsyncSession, currency: str) -> list[ChannelSettings]:
    """Every channel's configuration in ``currency`` (stored, else the default)."""
    rows = (
        await session.scalars(select(ChannelConfig).where(ChannelConfig.currency == currency))
    ).all()
    stored = {ChannelName(row.channel): _from_row(row) for row in rows}
    return [stored.get(name) or _default_for(name, currency) for name in ChannelName]


async def settings_of(
    session: AsyncSession, channel: ChannelName, currency: str
) -> ChannelSettings:
    row = await session.get(ChannelConfig, (channel.value, currency))
    return _from_row(row) if row is not None else _default_for(channel, currency)


def parse_rate(text: str | Decimal) -> Decimal:
    try:
        rate = Decimal(text) if not isinstance(text, Decimal) else text
    except InvalidOperation:
        rate = Decimal("NaN")
    check_fee_schedule(rate, 0)
    return rate


async def set_channel_settings(
    session: AsyncSession,
    wanted: ChannelSettings,
    *,
    actor: str,
    now: datetime,
) -> ChannelSettings:
    """Store ``wanted`` (validated) for its channel and currency; returns what is stored."""
    check_fee_schedule(wanted.fee.rate, wanted.fee.fixed_minor)
    if wanted.min_amount_minor < 1 or (
        wanted.max_amount_minor is not None and wanted.max_amount_minor < wanted.min_amount_minor
    ):
        raise InvalidChannelLimits(
            "A channel's single-payment minimum is at least 0.01 and its maximum, if any, "
            "is not below the minimum.",
            param="max_amount" if wanted.min_amount_minor >= 1 else "min_amount",
        )
    if not -1000 <= wanted.preference <= 1000:
        raise InvalidChannelLimits(
            "A routing preference is a whole number from -1000 to 1000.", param="preference"
        )
    row = await session.get(ChannelConfig, (wanted.channel.value, wanted.currency))
    if row is None:
        row = ChannelConfig(channel=wanted.channel.value, currency=wanted.currency)
        session.add(row)
    row.is_enabled = wanted.is_enabled
    row.fee_rate = str(wanted.fee.rate)
    row.fee_fixed_minor = wanted.fee.fixed_minor
    row.min_amount_minor = wanted.min_amount_minor
    row.max_amount_minor = wanted.max_amount_minor
    row.preference = wanted.preference
    row.updated_by = actor
    row.updated_at = now
    await session.flush()
    return _from_row(row)
