"""The payer page: what a phone shows after scanning the console's QR code. Plain HTML, in
Chinese, phone width, no scripts: confirm or cancel, and how the payer funds it."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from tongka.payments.amounts import minor_to_yuan
from tongka.payments.channel import ChannelName, FundingType
from tongka.payments.sandbox.base import FAULTS
from tongka.payments.sandbox.state import GatewayPayment

CHANNEL_NAMES = {
    ChannelName.WECHAT: "微信支付",
    ChannelName.ALIPAY: "支付宝",
    ChannelName.UNIONPAY: "银联云闪付",
    ChannelName.BANK_TRANSFER: "对公转账",
}
FUNDING_NAMES = {
    FundingType.BALANCE: "零钱/余额",
    FundingType.DEBIT_CARD: "借记卡",
    FundingType.CREDIT_CARD: "信用卡",
}
FAULT_NAMES = {
    "duplicate": "重复通知",
    "out_of_order": "乱序通知",
    "delayed": "延迟通知",
    "wrong_amount": "金额错误",
    "other_order": "其他订单",
    "forged_signature": "伪造签名",
    "silent": "不发通知",
}
STYLE = (
    "body{font-family:sans-serif;max-width:420px;margin:0 auto;padding:16px;background:#f5f5f5}"
    ".card{background:#fff;border-radius:8px;padding:16px;margin-bottom:12px}"
    ".amount{font-size:2em;text-align:center;margin:8px 0}"
    "button{width:100%;padding:12px;font-size:1.1em;margin-top:8px;border:0;border-radius:6px}"
    ".ok{background:#07c160;color:#fff}.cancel{background:#ddd}"
    "label{display:block;padding:6px 0}details{margin-top:8px;color:#666}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def payer_page(
    channel: ChannelName, payment: GatewayPayment, funding: Iterable[FundingType]
) -> str:
    name = CHANNEL_NAMES[channel]
    head = (
        f'<div class="card"><h1>{escape(name)}（沙箱）</h1><p>{escape(payment.description)}</p>'
        f'<div class="amount">¥{escape(minor_to_yuan(payment.amount_minor))}</div>'
        f"<p>订单号：{escape(payment.payment_id)}</p></div>"
    )
    if payment.status != "PENDING":
        status = {"SUCCEEDED": "已支付", "CLOSED": "已关闭", "FAILED": "支付失败"}.get(
            payment.status, payment.status
        )
        return _page(name, head + f'<div class="card"><p>此订单{escape(status)}。</p></div>')
    choices = (
        ""
        if channel == ChannelName.BANK_TRANSFER
        else "".join(
            f'<label><input type="radio" name="funding_type" value="{f.value}"'
            f"{' checked' if i == 0 else ''}> {FUNDING_NAMES[f]}</label>"
            for i, f in enumerate(funding)
        )
    )
    faults = "".join(
        f'<label><input type="checkbox" name="faults" value="{f}"> {FAULT_NAMES[f]}</label>'
        for f in FAULTS
    )
    form = (
        '<form method="post" class="card">'
        + ("<p>付款方式</p>" + choices if choices else "<p>从付款账户转账</p>")
        + f"<details><summary>测试：通知异常</summary>{faults}</details>"
        '<button class="ok" type="submit" name="action" value="confirm">确认支付</button>'
        '<button class="cancel" type="submit" name="action" value="cancel">取消</button></form>'
    )
    return _page(name, head + form)


def result_page(status: str, *, ok: bool, payment: GatewayPayment | None = None) -> str:
    words = {"SUCCEEDED": "支付成功", "CLOSED": "已取消"}.get(status, status)
    amount = (
        f'<div class="amount">¥{escape(minor_to_yuan(payment.amount_minor))}</div>'
        if payment and ok
        else ""
    )
    return _page(
        words, f'<div class="card"><h1>{escape(words)}</h1>{amount}<p>可以返回商户页面。</p></div>'
    )
