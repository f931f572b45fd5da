"""WeChat Pay API v3 (微信支付): Native (code_url), JSAPI (signed parameters for the payer's
WeChat client), payment code (付款码, ``codepay``), query, close, refund, notifications and
the daily trade bill.

Signing, verification and decryption are wechatpayv3's own functions (``build_authorization``,
``rsa_sign``, ``rsa_verify``, ``aes_decrypt``); the HTTP is ours, because wechatpayv3's
``Core`` has a fixed gateway and synchronous ``requests`` (docs/decisions/0011).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx
from wechatpayv3.utils import aes_decrypt, build_authorization, rsa_sign, rsa_verify

from tongka.payments.adapters._http import ChannelHttp, china_time, iter_lines, parse_china_time
from tongka.payments.amounts import fen_to_minor, require_cny, yuan_to_minor
from tongka.payments.channel import (
    ChannelError,
    ChannelName,
    ChannelPayment,
    ChannelPaymentStatus,
    ChannelRefund,
    ChannelRefundStatus,
    ForgedNotification,
    FundingType,
    NotificationAck,
    PaymentInstructions,
    PaymentMethod,
    PaymentRequest,
    RefundRequest,
    StatementLine,
    StatementLineKind,
)
from tongka.payments.keys import ChannelKeys

TRADE_STATES = {
    "SUCCESS": ChannelPaymentStatus.SUCCEEDED,
    "REFUND": ChannelPaymentStatus.REFUNDED,
    "NOTPAY": ChannelPaymentStatus.PENDING,
    "USERPAYING": ChannelPaymentStatus.PENDING,
    "CLOSED": ChannelPaymentStatus.CLOSED,
    "REVOKED": ChannelPaymentStatus.CLOSED,
    "PAYERROR": ChannelPaymentStatus.FAILED,
}
REFUND_STATES = {
    "SUCCESS": ChannelRefundStatus.SUCCEEDED,
    "PROCESSING": ChannelRefundStatus.PROCESSING,
    "CLOSED": ChannelRefundStatus.FAILED,
    "ABNORMAL": ChannelRefundStatus.FAILED,
}
NOTIFICATION_MAX_AGE_SECONDS = 300  # WeChat's advice: refuse older timestamps (replays)


def funding_from_bank_type(bank_type: str | None) -> FundingType:
    """``OTHERS`` is 零钱 (balance); ``XXX_DEBIT`` / ``XXX_CREDIT`` name the card's kind."""
    if not bank_type:
        return FundingType.UNKNOWN
    if bank_type == "OTHERS":
        return FundingType.BALANCE
    if bank_type.endswith("_CREDIT"):
        return FundingType.CREDIT_CARD
    if bank_type.endswith("_DEBIT"):
        return FundingType.DEBIT_CARD
    return FundingType.UNKNOWN


def bank_type_for(funding: FundingType) -> str:
    return {
        FundingType.BALANCE: "OTHERS",
        FundingType.DEBIT_CARD: "ICBC_DEBIT",
        FundingType.CREDIT_CARD: "CMB_CREDIT",
    }.get(funding, "OTHERS")


class WeChatPay:
    name = ChannelName.WECHAT
    methods = frozenset({PaymentMethod.NATIVE_QR, PaymentMethod.JSAPI, PaymentMethod.PAYMENT_CODE})

    def __init__(
        self,
        keys: ChannelKeys,
        base_url: str,
        *,
        http: httpx.AsyncClient | None = None,
        check_timestamp: bool = True,
    ) -> None:
        self.keys = keys
        self._http = ChannelHttp(base_url, http)
        self._private_key = keys.merchant_private_key()
        self._platform_key = keys.platform_public_key()
        self._check_timestamp = check_timestamp

    # --- signed HTTP -------------------------------------------------------------------
    async def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body else ""
        authorization = build_authorization(
            path, method, self.keys.merchant_id, self.keys.merchant_serial, self._private_key, data
        )
        headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        response = await self._http.send(
            method, path, content=data.encode() if data else None, headers=headers
        )
        text = response.text
        if not self._verify(response.headers, text):
            raise ChannelError("WeChat Pay's answer has an invalid signature")
        parsed = json.loads(text) if text else {}
        if response.status_code >= 400:
            code = parsed.get("code", "") if isinstance(parsed, dict) else ""
            raise ChannelError(
                f"WeChat Pay refused: {code} {parsed.get('message', '')}".strip(),
                is_retryable=code in {"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANK_ERROR"},
                details={"channel_code": code},
            )
        return response.status_code, parsed

    def _verify(self, headers: Mapping[str, str], body: str) -> bool:
        lower = {k.lower(): v for k, v in headers.items()}
        timestamp = lower.get("wechatpay-timestamp")
        nonce = lower.get("wechatpay-nonce")
        signature = lower.get("wechatpay-signature")
        serial = lower.get("wechatpay-serial")
        if not (timestamp and nonce and signature) or serial != self.keys.platform_serial:
            return False
        if self._check_timestamp:
            try:
                if abs(time.time() - int(timestamp)) > NOTIFICATION_MAX_AGE_SECONDS:
                    return False
            except ValueError:
                return False
        return bool(rsa_verify(timestamp, nonce, body, signature, self._platform_key))

    # --- payments ----------------------------------------------------------------------
    async def create_payment(self, request: PaymentRequest) -> PaymentInstructions:
        require_cny(request.currency)
        body: dict[str, Any] = {
            "appid": self.keys.app_id,
            "mchid": self.keys.merchant_id,
            "description": request.description[:127],
            "out_trade_no": request.payment_id,
            "time_expire": china_time(request.expires_at).isoformat(timespec="seconds"),
            "notify_url": request.notify_url,
            "amount": {"total": request.amount_minor, "currency": request.currency},
        }
        if request.method == PaymentMethod.NATIVE_QR:
            _, answer = await self._call("POST", "/v3/pay/transactions/native", body)
            return PaymentInstructions(
                self.name, request.method, request.payment_id, code_url=answer["code_url"]
            )
        if request.method == PaymentMethod.JSAPI:
            if not request.payer_openid:
                raise ChannelError("JSAPI needs the payer's openid", is_retryable=False)
            body["payer"] = {"openid": request.payer_openid}
            _, answer = await self._call("POST", "/v3/pay/transactions/jsapi", body)
            return PaymentInstructions(
                self.name,
                request.method,
                request.payment_id,
                jsapi_parameters=self.jsapi_parameters(answer["prepay_id"]),
            )
        if request.method == PaymentMethod.PAYMENT_CODE:
            if not request.payer_code:
                raise ChannelError(
                    "a payment code payment needs the scanned code", is_retryable=False
                )
            body.pop("notify_url")
            body.pop("time_expire")
            body["payer"] = {"auth_code": request.payer_code}
            _, answer = await self._call("POST", "/v3/pay/transactions/codepay", body)
            return PaymentInstructions(
                self.name,
                request.method,
                request.payment_id,
                immediate_result=self._payment(answer),
            )
        raise ChannelError(f"WeChat Pay has no method {request.method}", is_retryable=False)

    def jsapi_parameters(self, prepay_id: str) -> dict[str, str]:
        """What ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)`` takes, signed with our key."""
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        sign = rsa_sign(self._private_key, f"{self.keys.app_id}\n{timestamp}\n{nonce}\n{package}\n")
        return {
            "appId": self.keys.app_id,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": sign,
        }

    async def query_payment(self, payment_id: str) -> ChannelPayment:
        path = f"/v3/pay/transactions/out-trade-no/{payment_id}?mchid={self.keys.merchant_id}"
        _, answer = await self._call("GET", path)
        return self._payment(answer)

    async def close_payment(self, payment_id: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{payment_id}/close"
        await self._call("POST", path, {"mchid": self.keys.merchant_id})

    async def refund(self, request: RefundRequest) -> ChannelRefund:
        require_cny(request.currency)
        body: dict[str, Any] = {
            "out_trade_no": request.payment_id,
            "out_refund_no": request.refund_id,
            "reason": request.reason[:80],
            "amount": {
                "refund": request.amount_minor,
                "total": request.total_minor,
                "currency": request.currency,
            },
        }
        if request.channel_transaction_id:
            body["transaction_id"] = request.channel_transaction_id
        if request.notify_url:
            body["notify_url"] = request.notify_url
        _, answer = await self._call("POST", "/v3/refund/domestic/refunds", body)
        return ChannelRefund(
            channel=self.name,
            refund_id=answer["out_refund_no"],
            status=REFUND_STATES.get(answer.get("status", ""), ChannelRefundStatus.PROCESSING),
            amount_minor=fen_to_minor(answer["amount"]["refund"]),
            currency=answer["amount"].get("currency", request.currency),
            channel_refund_id=answer.get("refund_id"),
        )

    def _payment(self, data: Mapping[str, Any]) -> ChannelPayment:
        amount = data.get("amount") or {}
        state = data.get("trade_state", "")
        if state not in TRADE_STATES:
            raise ChannelError(f"unknown WeChat trade_state {state!r}", is_retryable=False)
        return ChannelPayment(
            channel=self.name,
            payment_id=data["out_trade_no"],
            status=TRADE_STATES[state],
            amount_minor=fen_to_minor(amount.get("total")),
            currency=amount.get("currency", "CNY"),
            channel_transaction_id=data.get("transaction_id"),
            paid_at=parse_china_time(data.get("success_time")),
            funding_type=funding_from_bank_type(data.get("bank_type")),
            payer_account_name=(data.get("payer") or {}).get("openid"),
            raw=dict(data),
        )

    # --- notifications -----------------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelPayment:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ForgedNotification("notification is not UTF-8") from exc
        if not self._verify(headers, text):
            raise ForgedNotification("WeChat Pay notification signature does not verify")
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise ForgedNotification("unknown resource algorithm")
            plain = aes_decrypt(
                resource["nonce"],
                resource["ciphertext"],
                resource.get("associated_data", ""),
                self.keys.secret,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ForgedNotification("notification is not a WeChat Pay notification") from exc
        if plain is None:
            raise ForgedNotification("notification resource does not decrypt (AEAD tag)")
        transaction = json.loads(plain)
        if transaction.get("mchid") != self.keys.merchant_id:
            raise ForgedNotification("notification for another merchant")
        payment = self._payment(transaction)
        return ChannelPayment(
            **{**payment.__dict__, "raw": {"event": envelope, "resource": transaction}}
        )

    def notification_ack(self, *, accepted: bool) -> NotificationAck:
        if accepted:
            return NotificationAck(204, b"", "application/json")
        body = json.dumps({"code": "FAIL", "message": "rejected"}).encode()
        return NotificationAck(400, body, "application/json")

    # --- statements --------------------------------------------------------------------
    async def download_statement(self, statement_date: date) -> bytes:
        _, answer = await self._call(
            "GET", f"/v3/bill/tradebill?bill_date={statement_date.isoformat()}"
        )
        url = urlsplit(answer["download_url"])
        path = url.path + (f"?{url.query}" if url.query else "")
        authorization = build_authorization(
            path, "GET", self.keys.merchant_id, self.keys.merchant_serial, self._private_key
        )
        response = await self._http.send("GET", path, headers={"Authorization": authorization})
        if response.status_code != 200:
            raise ChannelError(f"WeChat Pay bill download answered {response.status_code}")
        return response.content

    def parse_statement(self, content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
        return parse_tradebill(content)


def _field(value: str) -> str:
    return value[1:] if value.startswith("`") else value


def parse_tradebill(content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
    """The trade bill (交易账单, ``bill_type=ALL``): a header, one line per trade with every
    field prefixed by a backtick, then summary lines (总交易单数 …) — streamed line by line."""
    columns: dict[str, int] | None = None
    for raw in iter_lines(content):
        line = raw.decode("utf-8-sig").strip()
        if not line:
            continue
        cells = [_field(cell) for cell in line.split(",")]
        if columns is None:
            columns = {name: index for index, name in enumerate(cells)}
            continue
        if cells[0].startswith("总交易单数"):
            return  # the summary follows
        row = {name: cells[index] for name, index in columns.items()}
        cell = row.__getitem__

        is_refund = cell("交易状态") == "REFUND"
        occurred = parse_china_time(cell("交易时间"), "%Y-%m-%d %H:%M:%S")
        assert occurred is not None
        amount = cell("退款金额") if is_refund else cell("应结订单总金额")
        yield StatementLine(
            channel=ChannelName.WECHAT,
            trade_date=china_time(occurred).date(),
            kind=StatementLineKind.REFUND if is_refund else StatementLineKind.PAYMENT,
            payment_id=cell("商户订单号"),
            channel_transaction_id=cell("微信订单号") or None,
            amount_minor=yuan_to_minor(amount),
            fee_minor=yuan_to_minor(cell("手续费")),
            currency=cell("货币种类") or "CNY",
            occurred_at=occurred,
            refund_id=(cell("商户退款单号") or None) if is_refund else None,
        )
