"""The channel adapters: one module per channel, each implementing
``tongka.payments.channel.PaymentChannel``.

``build_channels(settings, http=...)`` builds all of them with the sandbox keys
(``tongka.payments.keys``) against ``settings.sandbox_gateway_url``. Pass an
``httpx.AsyncClient`` to route their HTTP elsewhere (tests: ``ASGITransport`` to an
in-process gateway, see ``tests/payments_support.py``).
"""

from __future__ import annotations

import httpx

from tongka.config import Settings
from tongka.payments.adapters.alipay import Alipay
from tongka.payments.adapters.bank_transfer import BankTransfer
from tongka.payments.adapters.cash import Cash
from tongka.payments.adapters.unionpay import UnionPay
from tongka.payments.adapters.wechat import WeChatPay
from tongka.payments.channel import ChannelName, PaymentChannel
from tongka.payments.keys import channel_keys

__all__ = ["Alipay", "BankTransfer", "Cash", "UnionPay", "WeChatPay", "build_channels"]


def build_channels(
    settings: Settings, *, http: httpx.AsyncClient | None = None
) -> dict[ChannelName, PaymentChannel]:
    base = settings.sandbox_gateway_url
    client = http or httpx.AsyncClient(timeout=10.0)
    return {
        ChannelName.WECHAT: WeChatPay(
            channel_keys(settings, ChannelName.WECHAT), base, http=client
        ),
        ChannelName.ALIPAY: Alipay(channel_keys(settings, ChannelName.ALIPAY), base, http=client),
        ChannelName.UNIONPAY: UnionPay(
            channel_keys(settings, ChannelName.UNIONPAY), base, http=client
        ),
        ChannelName.BANK_TRANSFER: BankTransfer(
            channel_keys(settings, ChannelName.BANK_TRANSFER), base, http=client
        ),
        ChannelName.CASH: Cash(),
    }
