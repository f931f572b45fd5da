"""The sandbox playing Alipay's open API gateway (``/alipay/gateway.do``): checks our RSA2
signature, answers with the signed ``<method>_response`` JSON, sends async notifications as
signed forms, serves the trade bill (GBK CSV with ``#`` comment lines)."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from fastapi import APIRouter, Request, Response

from tongka.payments.adapters.alipay import TIME_FORMAT, fund_channel_for, signer
from tongka.payments.amounts import minor_to_yuan, yuan_to_minor
from tongka.payments.channel import ChannelError, ChannelName
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

BILL_HEADER = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"  # noqa: E501
NOT_EXIST = {
    "code": "40004",
    "msg": "Business Failed",
    "sub_code": "ACQ.TRADE_NOT_EXIST",
    "sub_msg": "交易不存在",
}


class AlipaySandbox(ChannelSandbox):
    channel = ChannelName.ALIPAY

    def _sdk(self) -> Any:
        return signer(
            self.keys.app_id, self.keys.platform_private_pem, self.keys.merchant_public_pem
        )

    def _answer(self, method: str, content: dict[str, Any]) -> Response:
        content_json = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        sign = self._sdk()._sign(content_json)
        key = method.replace(".", "_") + "_response"
        raw = f'{{"{key}":{content_json},"sign":"{sign}"}}'
        return Response(raw.encode(), media_type="application/json;charset=utf-8")

    def _time(self, value: Any) -> str:
        return value.astimezone(CHINA).strftime(TIME_FORMAT) if value else ""

    def trade(self, payment: GatewayPayment) -> dict[str, Any]:
        status = {"SUCCEEDED": "TRADE_SUCCESS", "CLOSED": "TRADE_CLOSED"}.get(
            payment.status, "WAIT_BUYER_PAY"
        )
        data: dict[str, Any] = {
            "code": "10000",
            "msg": "Success",
            "trade_no": payment.transaction_id,
            "out_trade_no": payment.payment_id,
            "buyer_logon_id": "159****5620",
            "trade_status": status,
            "total_amount": minor_to_yuan(payment.amount_minor),
        }
        if payment.status == "SUCCEEDED":
            data.update(
                send_pay_date=self._time(payment.paid_at),
                receipt_amount=data["total_amount"],
                fund_bill_list=[
                    {
                        "fund_channel": fund_channel_for(payment.funding_type),
                        "amount": data["total_amount"],
                    }
                ],
            )
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
        amount = minor_to_yuan(amount_minor)
        fields = {
            "notify_time": self._time(self.state.now()),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.keys.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": payment.transaction_id,
            "out_trade_no": payment_id,
            "trade_status": "TRADE_SUCCESS" if paid else "WAIT_BUYER_PAY",
            "total_amount": amount,
            "gmt_create": self._time(payment.created_at),
            "buyer_logon_id": "159****5620",
        }
        if paid:
            fields.update(
                receipt_amount=amount,
                buyer_pay_amount=amount,
                gmt_payment=self._time(payment.paid_at),
                fund_bill_list=json.dumps(
                    [{"amount": amount, "fundChannel": fund_channel_for(payment.funding_type)}]
                ),
            )
        raw = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
        if forged:
            sign = base64.b64encode(
                self.forger_key.sign(raw.encode(), padding.PKCS1v15(), hashes.SHA256())
            ).decode()
        else:
            sign = self._sdk()._sign(raw)
        body = urlencode({**fields, "sign_type": "RSA2", "sign": sign}).encode()
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body

    def router(self) -> APIRouter:
        router = APIRouter(tags=["alipay"])

        @router.post("/alipay/gateway.do")
        async def gateway(request: Request) -> Response:
            fields = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
            method = fields.get("method", "unknown")
            sign = fields.pop("sign", "")
            try:
                # a request's signature covers sign_type too (a notification's does not)
                unsigned = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
                valid = (
                    bool(sign)
                    and fields.get("app_id") == self.keys.app_id
                    and self._sdk()._verify(unsigned, sign)
                )
            except Exception:  # noqa: BLE001 - any malformed signature is just invalid
                valid = False
            if not valid:
                return self._answer(
                    method,
                    {
                        "code": "40002",
                        "msg": "Invalid Arguments",
                        "sub_code": "isv.invalid-signature",
                        "sub_msg": "验签出错",
                    },
                )
            biz = json.loads(fields.get("biz_content") or "{}")
            try:
                return self._answer(method, self.handle(method, biz, fields))
            except ChannelError:
                return self._answer(
                    method,
                    {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.INVALID_PARAMETER",
                        "sub_msg": "参数无效",
                    },
                )

        @router.get("/alipay/bills/{day}.csv")
        async def bill(day: date) -> Response:
            return Response(self.statement(day), media_type="text/csv;charset=GBK")

        return router

    def handle(self, method: str, biz: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
        now = self.state.now()
        if method in {"alipay.trade.precreate", "alipay.trade.pay"}:
            payment_id, amount = biz["out_trade_no"], yuan_to_minor(biz["total_amount"])
            existing = self.state.get(self.channel, payment_id)
            if existing is not None and (
                existing.amount_minor != amount or existing.status != "PENDING"
            ):
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_HAS_SUCCESS"
                    if existing.status == "SUCCEEDED"
                    else "ACQ.CONTEXT_INCONSISTENT",
                    "sub_msg": "交易信息被篡改",
                }
            payment = existing or self.state.add(
                GatewayPayment(
                    channel=self.channel,
                    payment_id=payment_id,
                    amount_minor=amount,
                    currency="CNY",
                    description=biz.get("subject", ""),
                    notify_url=fields.get("notify_url", ""),
                    method="QR" if method.endswith("precreate") else "BARCODE",
                    created_at=now,
                    transaction_id=now.astimezone(CHINA).strftime("%Y%m%d")
                    + transaction_id("2200"),
                )
            )
            if method == "alipay.trade.precreate":
                return {
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": payment_id,
                    "qr_code": self.payer_url(payment_id),
                }
            try:
                ok, funding = code_outcome(biz.get("auth_code", ""))
            except ValueError:
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.PAYMENT_AUTH_CODE_INVALID",
                    "sub_msg": "付款码无效",
                }
            if not ok:
                payment.status = "FAILED"
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.PAYMENT_FAIL",
                    "sub_msg": "支付失败",
                }
            payment.status, payment.paid_at, payment.funding_type = "SUCCEEDED", now, funding
            trade = self.trade(payment)
            return {**trade, "gmt_payment": trade["send_pay_date"]}
        if method == "alipay.data.dataservice.bill.downloadurl.query":
            return {
                "code": "10000",
                "msg": "Success",
                "bill_download_url": f"{self.public_url}/alipay/bills/{biz['bill_date']}.csv",
            }
        found = self.state.get(self.channel, biz.get("out_trade_no", ""))
        if found is None:
            return NOT_EXIST
        payment = found
        if method == "alipay.trade.query":
            return self.trade(payment)
        if method == "alipay.trade.close":
            if payment.status != "PENDING":
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR",
                    "sub_msg": "交易状态不合法",
                }
            payment.status = "CLOSED"
            return {
                "code": "10000",
                "msg": "Success",
                "trade_no": payment.transaction_id,
                "out_trade_no": payment.payment_id,
            }
        if method == "alipay.trade.refund":
            if payment.status != "SUCCEEDED":
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR",
                    "sub_msg": "交易状态不合法",
                }
            amount = yuan_to_minor(biz["refund_amount"])
            done = next((r for r in payment.refunds if r.refund_id == biz["out_request_no"]), None)
            if done is None:
                if amount <= 0 or amount > payment.amount_minor - payment.refunded_minor:
                    return {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                        "sub_msg": "退款金额超限",
                    }
                done = GatewayRefund(
                    biz["out_request_no"],
                    amount,
                    now,
                    payment.transaction_id,
                    refund_fee_for(self.channel, payment.amount_minor, amount),
                )
                payment.refunds.append(done)
            return {
                "code": "10000",
                "msg": "Success",
                "trade_no": payment.transaction_id,
                "out_trade_no": payment.payment_id,
                "fund_change": "Y",
                "refund_fee": minor_to_yuan(payment.refunded_minor),
                "refund_amount": minor_to_yuan(done.amount_minor),
            }
        return {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "isv.invalid-method",
            "sub_msg": "不存在的方法名",
        }

    def statement(self, day: object) -> bytes:
        assert isinstance(day, date)
        lines = [
            "#支付宝业务明细查询",
            f"#账号：[{self.keys.app_id}]",
            f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   终止日期：[{day:%Y年%m月%d日} 23:59:59]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            BILL_HEADER,
        ]
        total = fees = 0
        for payment in self.state.paid_on(self.channel, day):
            fee = fee_for(self.channel, payment.amount_minor)
            total, fees = total + payment.amount_minor, fees + fee
            lines.append(
                self._row(payment, "交易", payment.paid_at, payment.amount_minor, -fee, "")
            )
        for payment, done in self.state.refunds_on(self.channel, day):
            total, fees = total - done.amount_minor, fees - done.fee_returned_minor
            lines.append(
                self._row(
                    payment,
                    "退款",
                    done.refunded_at,
                    -done.amount_minor,
                    done.fee_returned_minor,
                    done.refund_id,
                )
            )
        lines += [
            "#-----------------------------------------业务明细列表结束------------------------------------",
            f"#交易合计：{len(lines) - 5}笔，商家实收共{minor_to_yuan(total)}元，"
            f"服务费共{minor_to_yuan(-fees)}元",
            f"#导出时间：[{self.state.now().astimezone(CHINA):%Y年%m月%d日 %H:%M:%S}]",
        ]
        return ("\r\n".join(lines) + "\r\n").encode("gbk")

    def _row(
        self, payment: GatewayPayment, kind: str, at: Any, amount: int, fee: int, refund_id: str
    ) -> str:
        return ",".join(
            [
                payment.transaction_id,
                payment.payment_id,
                kind,
                payment.description.replace(",", " "),
                self._time(payment.created_at),
                self._time(at),
                "",
                "",
                "",
                "",
                "159****5620",
                minor_to_yuan(amount),
                minor_to_yuan(amount),
                "0.00",
                "0.00",
                "0.00",
                "0.00",
                "0.00",
                "",
                "0.00",
                "0.00",
                refund_id,
                minor_to_yuan(fee),
                "0.00",
                "",
            ]
        )
