"""How the app gets its channel adapters: built once per configuration from settings
(``adapters.build_channels``), or injected (tests give the in-process sandbox's adapters,
``tests/payments_support.py``) with ``override_channels``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tongka.config import Settings
from tongka.payments.adapters import (
    Alipay,
    BankTransfer,
    Cash,
    UnionPay,
    WeChatPay,
    build_channels,
)
from tongka.payments.channel import ChannelName, PaymentChannel, PaymentMethod
from tongka.payments.errors import UnknownChannel

ADAPTER_CLASSES: dict[ChannelName, type[WeChatPay | Alipay | UnionPay | BankTransfer | Cash]] = {
    ChannelName.WECHAT: WeChatPay,
    ChannelName.ALIPAY: Alipay,
    ChannelName.UNIONPAY: UnionPay,
    ChannelName.BANK_TRANSFER: BankTransfer,
    ChannelName.CASH: Cash,
}
_built: dict[tuple[str, str], dict[ChannelName, PaymentChannel]] = {}
_overrides: list[Mapping[ChannelName, PaymentChannel]] = []


def channels(settings: Settings) -> Mapping[ChannelName, PaymentChannel]:
    if _overrides:
        return _overrides[-1]
    key = (settings.sandbox_gateway_url, str(settings.data_dir))
    if key not in _built:
        _built[key] = build_channels(settings)
    return _built[key]


def channel_methods(name: ChannelName) -> frozenset[PaymentMethod]:
    """The methods a channel takes (its adapter class says; no keys or client needed)."""
    if _overrides and name in _overrides[-1]:
        return _overrides[-1][name].methods
    return ADAPTER_CLASSES[name].methods


def channel(settings: Settings, name: ChannelName | str) -> PaymentChannel:
    try:
        return channels(settings)[ChannelName(name)]
    except (ValueError, KeyError):
        raise UnknownChannel(
            f"there is no payment channel {name!r}",
            param="channel",
            details={"channel": str(name)},
        ) from None


@contextmanager
def override_channels(adapters: Mapping[ChannelName, PaymentChannel]) -> Iterator[None]:
    """Use ``adapters`` instead of the configured ones inside the block (tests)."""
    _overrides.append(adapters)
    try:
        yield
    finally:
        _overrides.remove(adapters)


def notify_url(settings: Settings, name: ChannelName | str) -> str:
    base = settings.payments_notify_base_url.rstrip("/")
    return f"{base}/v1/channels/{ChannelName(name).value}/notify"
