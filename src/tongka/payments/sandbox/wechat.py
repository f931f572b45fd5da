"""The sandbox playing WeChat Pay API v3: checks our ``Authorization`` signature, answers
signed with the platform key, notifies with an AEAD_AES_256_GCM-encrypted resource, serves
the trade bill with backtick-prefixed fields and summary lines."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import APIRouter, Request, Response
from wechatpayv3.utils import rsa_sign

from tongka.payments.adapters.wechat import bank_type_for
from tongka.payments.amounts import minor_to_yuan
from tongka.payments.channel import ChannelName
from tongka.payments.sandbox.base import ChannelSandbox, Message
from tongka.payments.sandbox.state import (
    CHINA,
    GatewayPayment,
    GatewayRefund,
    code_outcome,
    fee_for,
    refund_fee_for,
    transaction_id,
)

AUTH = re.compile(r'(\w+)="([^"]*)"')
BILL_HEADER = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单总金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"  # noqa: E501
TRADE_TYPES = {
    "/v3/pay/transactions/native": "NATIVE",
    "/v3/pay/transactions/jsapi": "JSAPI",
    "/v3/pay/transactions/codepay": "MICROPAY",
}


class WeChatSandbox(ChannelSandbox):
    channel = ChannelName.WECHAT

    # --- signatures ------------------------------------------------------------------
    def _authorized(self, request: Request, body: bytes) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return False
        fields = dict(AUTH.findall(header))
        if (
            fields.get("mchid") != self.keys.merchant_id
            or fields.get("serial_no") != self.keys.merchant_serial
        ):
            return False
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        parts = [request.method, path, fields.get("timestamp"), fields.get("nonce_str")]
        message = "\n".join(str(part) for part in parts) + f"\n{body.decode()}\n"
        try:
            self.keys.merchant_public_key().verify(
                base64.b64decode(fields.get("signature", "")),
                message.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def _signed_headers(self, body: str, *, forged: bool = False) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        key = self.forger_key if forged else self.keys.platform_private_key()
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": rsa_sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": self.keys.platform_serial,
            "Request-ID": str(uuid.uuid4()),
        }

    def _answer(self, status: int, data: dict[str, Any] | None) -> Response:
        body = (
            json.dumps(data, ensure_ascii=False, separators=(",", ":")) if data is not None else ""
        )
        return Response(
            body.encode(),
            status_code=status,
            media_type="application/json",
            headers=self._signed_headers(body),
        )

    def _error(self, status: int, code: str, message: str) -> Response:
        return self._answer(status, {"code": code, "message": message})

    # --- the transaction as WeChat shows it -------------------------------------------
    def transaction(
        self,
        payment: GatewayPayment,
        *,
        amount_minor: int | None = None,
        payment_id: str | None = None,
        paid: bool | None = None,
    ) -> dict[str, Any]:
        stale = paid is False  # an old "not paid yet" answer (out-of-order fault)
        paid = payment.status == "SUCCEEDED" if paid is None else paid
        state = {"SUCCEEDED": "SUCCESS", "CLOSED": "CLOSED", "FAILED": "PAYERROR"}.get(
            payment.status, "NOTPAY"
        )
        if payment.status == "SUCCEEDED" and payment.refunds:
            state = "REFUND"
        if stale:
            state = "NOTPAY"
        amount = payment.amount_minor if amount_minor is None else amount_minor
        data: dict[str, Any] = {
            "appid": self.keys.app_id,
            "mchid": self.keys.merchant_id,
            "out_trade_no": payment_id or payment.payment_id,
            "transaction_id": payment.transaction_id,
            "trade_type": payment.method,
            "trade_state": state,
            "trade_state_desc": {
                "SUCCESS": "支付成功",
                "NOTPAY": "未支付",
                "CLOSED": "已关闭",
                "REFUND": "转入退款",
                "PAYERROR": "支付失败",
            }[state],
            "bank_type": bank_type_for(payment.funding_type) if paid else "",
            "attach": "",
            "payer": {"openid": payment.openid or "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": amount, "currency": payment.currency},
        }
        if paid and payment.paid_at:
            data["success_time"] = payment.paid_at.astimezone(CHINA).isoformat(timespec="seconds")
            data["amount"].update(payer_total=amount, payer_currency=payment.currency)
        return data

    def message(
        self,
        payment: GatewayPayment,
        *,
        amount_minor: int,
        payment_id: str,
        paid: bool,
        forged: bool,
    ) -> Message:
        resource = json.dumps(
            self.transaction(payment, amount_minor=amount_minor, payment_id=payment_id, paid=paid),
            ensure_ascii=False,
        )
        nonce = secrets.token_hex(6)
        ciphertext = AESGCM(self.keys.secret.encode()).encrypt(
            nonce.encode(), resource.encode(), b"transaction"
        )
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": self.state.now().astimezone(CHINA).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False)
        return {
            **self._signed_headers(body, forged=forged),
            "Content-Type": "application/json",
        }, body.encode()

    # --- routes -----------------------------------------------------------------------
    def router(self) -> APIRouter:
        router = APIRouter(prefix="/v3", tags=["wechat"])

        async def create(request: Request) -> Response:
            body = await request.body()
            if not self._authorized(request, body):
                return self._error(401, "SIGN_ERROR", "签名错误")
            data = json.loads(body)
            trade_type = TRADE_TYPES[request.url.path]
            payment_id, amount = data.get("out_trade_no"), data.get("amount", {}).get("total")
            if (
                not payment_id
                or not isinstance(amount, int)
                or amount <= 0
                or data.get("appid") != self.keys.app_id
            ):
                return self._error(400, "PARAM_ERROR", "参数错误")
            existing = self.state.get(self.channel, payment_id)
            if existing is not None and (
                existing.amount_minor != amount or existing.status != "PENDING"
            ):
                return self._error(400, "OUT_TRADE_NO_USED", "商户订单号重复")
            payment = existing or self.state.add(
                GatewayPayment(
                    channel=self.channel,
                    payment_id=payment_id,
                    amount_minor=amount,
                    currency=data["amount"].get("currency", "CNY"),
                    description=data.get("description", ""),
                    notify_url=data.get("notify_url", ""),
                    method=trade_type,
                    created_at=self.state.now(),
                    transaction_id=transaction_id("4200"),
                    openid=(data.get("payer") or {}).get("openid", ""),
                )
            )
            if trade_type == "NATIVE":
                return self._answer(200, {"code_url": self.payer_url(payment_id)})
            if trade_type == "JSAPI":
                return self._answer(200, {"prepay_id": f"wx{payment.transaction_id}"})
            try:
                ok, funding = code_outcome((data.get("payer") or {}).get("auth_code", ""))
            except ValueError:
                return self._error(400, "INVALID_REQUEST", "付款码无效")
            if not ok:
                payment.status = "FAILED"
                return self._error(403, "PAYERROR", "支付失败")
            payment.status, payment.paid_at, payment.funding_type = (
                "SUCCEEDED",
                self.state.now(),
                funding,
            )
            return self._answer(200, self.transaction(payment))

        for path in TRADE_TYPES:
            router.add_api_route(path.removeprefix("/v3"), create, methods=["POST"])

        @router.get("/pay/transactions/out-trade-no/{payment_id}")
        async def query(payment_id: str, request: Request) -> Response:
            if not self._authorized(request, b""):
                return self._error(401, "SIGN_ERROR", "签名错误")
            payment = self.state.get(self.channel, payment_id)
            if payment is None:
                return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
            return self._answer(200, self.transaction(payment))

        @router.post("/pay/transactions/out-trade-no/{payment_id}/close")
        async def close(payment_id: str, request: Request) -> Response:
            if not self._authorized(request, await request.body()):
                return self._error(401, "SIGN_ERROR", "签名错误")
            payment = self.state.get(self.channel, payment_id)
            if payment is None:
                return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
            if payment.status == "SUCCEEDED":
                return self._error(400, "ORDERPAID", "订单已支付")
            payment.status = "CLOSED"
            return self._answer(204, None)

        @router.post("/refund/domestic/refunds")
        async def refund(request: Request) -> Response:
            body = await request.body()
            if not self._authorized(request, body):
                return self._error(401, "SIGN_ERROR", "签名错误")
            data = json.loads(body)
            payment = self.state.get(self.channel, data.get("out_trade_no", ""))
            if payment is None or payment.status != "SUCCEEDED":
                return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
            amount = data["amount"]
            for done in payment.refunds:
                if done.refund_id == data["out_refund_no"]:
                    return self._answer(200, self._refund(payment, done))
            if (
                amount.get("total") != payment.amount_minor
                or amount["refund"] <= 0
                or amount["refund"] > payment.amount_minor - payment.refunded_minor
            ):
                return self._error(400, "NOT_ENOUGH", "退款金额超过可退金额")
            done = GatewayRefund(
                data["out_refund_no"],
                amount["refund"],
                self.state.now(),
                transaction_id("5030"),
                refund_fee_for(self.channel, payment.amount_minor, amount["refund"]),
            )
            payment.refunds.append(done)
            return self._answer(200, self._refund(payment, done))

        @router.get("/bill/tradebill")
        async def tradebill(bill_date: date, request: Request) -> Response:
            if not self._authorized(request, b""):
                return self._error(401, "SIGN_ERROR", "签名错误")
            content = self.statement(bill_date)
            return self._answer(
                200,
                {
                    "download_url": f"{self.public_url}/v3/billdownload/file"
                    f"?token=tradebill-{bill_date.isoformat()}",
                    "hash_type": "SHA1",
                    "hash_value": hashlib.sha1(content).hexdigest(),  # noqa: S324 - WeChat's own choice
                },
            )

        @router.get("/billdownload/file")
        async def download(token: str, request: Request) -> Response:
            if not self._authorized(request, b""):
                return self._error(401, "SIGN_ERROR", "签名错误")
            day = date.fromisoformat(token.removeprefix("tradebill-"))
            return Response(self.statement(day), media_type="text/csv")

        return router

    def _refund(self, payment: GatewayPayment, done: GatewayRefund) -> dict[str, Any]:
        return {
            "refund_id": done.channel_refund_id,
            "out_refund_no": done.refund_id,
            "transaction_id": payment.transaction_id,
            "out_trade_no": payment.payment_id,
            "channel": "ORIGINAL",
            "status": "SUCCESS",
            "create_time": done.refunded_at.astimezone(CHINA).isoformat(timespec="seconds"),
            "amount": {
                "refund": done.amount_minor,
                "total": payment.amount_minor,
                "currency": payment.currency,
            },
        }

    def statement(self, day: object) -> bytes:
        assert isinstance(day, date)
        rows: list[list[str]] = []
        total = refunds = fees = 0
        for payment in self.state.paid_on(self.channel, day):
            fee = fee_for(self.channel, payment.amount_minor)
            total, fees = total + payment.amount_minor, fees + fee
            rows.append(self._row(payment, "SUCCESS", payment.paid_at, fee, "", "", 0))
        for payment, done in self.state.refunds_on(self.channel, day):
            refunds, fees = refunds + done.amount_minor, fees - done.fee_returned_minor
            rows.append(
                self._row(
                    payment,
                    "REFUND",
                    done.refunded_at,
                    -done.fee_returned_minor,
                    done.channel_refund_id,
                    done.refund_id,
                    done.amount_minor,
                )
            )
        lines = [BILL_HEADER]
        lines += [",".join("`" + cell for cell in row) for row in rows]
        lines.append(
            "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
        )
        lines.append(
            ",".join(
                "`" + cell
                for cell in [
                    str(len(rows)),
                    minor_to_yuan(total),
                    minor_to_yuan(refunds),
                    "0.00",
                    minor_to_yuan(fees),
                    minor_to_yuan(total),
                    minor_to_yuan(refunds),
                ]
            )
        )
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")

    def _row(
        self,
        payment: GatewayPayment,
        state: str,
        at: Any,
        fee: int,
        refund_no: str,
        out_refund_no: str,
        refund: int,
    ) -> list[str]:
        return [
            at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            self.keys.app_id,
            self.keys.merchant_id,
            "0",
            "",
            payment.transaction_id,
            payment.payment_id,
            payment.openid or "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            payment.method,
            state,
            bank_type_for(payment.funding_type),
            payment.currency,
            minor_to_yuan(payment.amount_minor),
            "0.00",
            refund_no,
            out_refund_no,
            minor_to_yuan(refund),
            "0.00",
            "ORIGINAL" if refund else "",
            "SUCCESS" if refund else "",
            payment.description.replace(",", " "),
            "",
            minor_to_yuan(fee),
            "0.60%",
            minor_to_yuan(payment.amount_minor),
            minor_to_yuan(refund),
            "",
        ]
