"""The sandbox playing UnionPay's ACP gateway: signed forms both ways (RSA-SHA256 over the
SHA-256 digest of the sorted fields), back notifications to ``backUrl``, a ``|``-delimited
daily file returned base64 in ``fileContent``."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from tongka.payments.adapters.unionpay import (
    TIME_FORMAT,
    parse_form,
    pay_card_type_for,
    sign_fields,
    verify_fields,
)
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


class UnionPaySandbox(ChannelSandbox):
    channel = ChannelName.UNIONPAY

    def _signed(self, fields: dict[str, str], *, forged: bool = False) -> dict[str, str]:
        message = {
            "version": "5.1.0",
            "encoding": "UTF-8",
            "signMethod": "01",
            "merId": self.keys.merchant_id,
            "certId": self.keys.platform_serial,
            **fields,
        }
        message["signature"] = sign_fields(
            message, self.forger_key if forged else self.keys.platform_private_key()
        )
        return message

    def _answer(self, fields: dict[str, str]) -> Response:
        return Response(
            urlencode(self._signed(fields)).encode(), media_type="application/x-www-form-urlencoded"
        )

    def _time(self, value: Any) -> str:
        return value.astimezone(CHINA).strftime(TIME_FORMAT) if value else ""

    def order(
        self,
        payment: GatewayPayment,
        *,
        amount_minor: int | None = None,
        payment_id: str | None = None,
        paid: bool | None = None,
    ) -> dict[str, str]:
        paid = payment.status == "SUCCEEDED" if paid is None else paid
        fields = {
            "txnType": "01",
            "txnSubType": "07",
            "bizType": "000000",
            "orderId": payment_id or payment.payment_id,
            "txnAmt": minor_to_yuan(payment.amount_minor if amount_minor is None else amount_minor),
            "currencyCode": "156",
            "queryId": payment.transaction_id,
            "respCode": "00",
            "respMsg": "成功[0000000]",
            "origRespCode": "00"
            if paid
            else ("05" if payment.status == "PENDING" or not paid else "01"),
        }
        if payment.status == "CLOSED":
            fields["orderStatus"] = "CLOSED"
        if paid:
            fields.update(
                traceTime=self._time(payment.paid_at),
                payCardType=pay_card_type_for(payment.funding_type),
                accNo="6216****1234",
            )
        return fields

    def message(
        self,
        payment: GatewayPayment,
        *,
        amount_minor: int,
        payment_id: str,
        paid: bool,
        forged: bool,
    ) -> Message:
        fields = self._signed(
            self.order(payment, amount_minor=amount_minor, payment_id=payment_id, paid=paid),
            forged=forged,
        )
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(
            fields
        ).encode()

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/unionpay/gateway/api", tags=["unionpay"])

        async def receive(request: Request) -> dict[str, str] | None:
            fields = parse_form(await request.body())
            if (
                fields.get("merId") != self.keys.merchant_id
                or fields.get("certId") != self.keys.merchant_serial
            ):
                return None
            return fields if verify_fields(fields, self.keys.merchant_public_key()) else None

        def refuse(code: str, message: str, fields: dict[str, str] | None = None) -> Response:
            return self._answer(
                {"respCode": code, "respMsg": message, "orderId": (fields or {}).get("orderId", "")}
            )

        @router.post("/backTransReq.do")
        async def back(request: Request) -> Response:
            fields = await receive(request)
            if fields is None:
                return refuse("11", "验证签名失败")
            try:
                return self.handle(fields) or refuse("34", "查无此交易", fields)
            except (ChannelError, KeyError):
                return refuse("30", "报文格式错误", fields)

        @router.post("/queryTrans.do")
        async def query(request: Request) -> Response:
            fields = await receive(request)
            if fields is None:
                return refuse("11", "验证签名失败")
            payment = self.state.get(self.channel, fields.get("orderId", ""))
            if payment is None:
                return refuse("34", "查无此交易", fields)
            answer = self.order(payment)
            if payment.refunds and payment.refunded_minor == payment.amount_minor:
                answer["orderStatus"] = "REFUNDED"
            return self._answer({**answer, "txnType": "00"})

        @router.post("/fileTransRequest.do")
        async def file(request: Request) -> Response:
            fields = await receive(request)
            if fields is None:
                return refuse("11", "验证签名失败")
            day = (
                date.fromisoformat(fields["settleDateFull"])
                if "settleDateFull" in fields
                else self._day(fields["settleDate"])
            )
            return self._answer(
                {
                    "respCode": "00",
                    "respMsg": "成功",
                    "txnType": "76",
                    "fileContent": base64.b64encode(self.statement(day)).decode(),
                }
            )

        return router

    def _day(self, mmdd: str) -> date:
        today = self.state.now().astimezone(CHINA).date()
        candidate = date(today.year, int(mmdd[:2]), int(mmdd[2:]))
        return (
            candidate
            if candidate <= today
            else date(today.year - 1, candidate.month, candidate.day)
        )

    def handle(self, fields: dict[str, str]) -> Response | None:
        now = self.state.now()
        if fields["txnType"] == "01":
            payment_id, amount = fields["orderId"], yuan_to_minor(fields["txnAmt"])
            existing = self.state.get(self.channel, payment_id)
            if existing is not None and (
                existing.amount_minor != amount or existing.status != "PENDING"
            ):
                return self._answer(
                    {"respCode": "12", "respMsg": "重复交易", "orderId": payment_id}
                )
            payment = existing or self.state.add(
                GatewayPayment(
                    channel=self.channel,
                    payment_id=payment_id,
                    amount_minor=amount,
                    currency="CNY",
                    description=fields.get("orderDesc", ""),
                    notify_url=fields.get("backUrl", ""),
                    method="QR" if fields["txnSubType"] == "07" else "CODE",
                    created_at=now,
                    transaction_id=now.astimezone(CHINA).strftime("%m%d%H%M%S")
                    + transaction_id("")[:11],
                )
            )
            if fields["txnSubType"] == "07":
                return self._answer(
                    {
                        **self.order(payment),
                        "qrCode": self.payer_url(payment_id),
                        "origRespCode": "05",
                    }
                )
            try:
                ok, funding = code_outcome(fields.get("qrNo", ""))
            except ValueError:
                return self._answer(
                    {"respCode": "30", "respMsg": "付款码无效", "orderId": payment_id}
                )
            if not ok:
                payment.status = "FAILED"
                return self._answer(
                    {"respCode": "61", "respMsg": "支付失败", "orderId": payment_id}
                )
            payment.status, payment.paid_at, payment.funding_type = "SUCCEEDED", now, funding
            return self._answer(self.order(payment))
        original = self.state.get(self.channel, fields.get("origOrderId", ""))
        if original is None:
            return None
        payment = original
        if fields["txnType"] == "31":
            if payment.status != "PENDING":
                return self._answer(
                    {"respCode": "36", "respMsg": "原交易状态不正确", "orderId": fields["orderId"]}
                )
            payment.status = "CLOSED"
            return self._answer(
                {
                    "respCode": "00",
                    "respMsg": "成功",
                    "orderId": fields["orderId"],
                    "origOrderId": payment.payment_id,
                    "txnAmt": minor_to_yuan(payment.amount_minor),
                    "orderStatus": "CLOSED",
                }
            )
        if fields["txnType"] == "04":
            amount = yuan_to_minor(fields["txnAmt"])
            done = next((r for r in payment.refunds if r.refund_id == fields["orderId"]), None)
            if done is None:
                if (
                    payment.status != "SUCCEEDED"
                    or amount <= 0
                    or amount > payment.amount_minor - payment.refunded_minor
                ):
                    return self._answer(
                        {"respCode": "36", "respMsg": "退货金额超限", "orderId": fields["orderId"]}
                    )
                done = GatewayRefund(
                    fields["orderId"],
                    amount,
                    now,
                    transaction_id("")[:21],
                    refund_fee_for(self.channel, payment.amount_minor, amount),
                )
                payment.refunds.append(done)
            return self._answer(
                {
                    "respCode": "00",
                    "respMsg": "成功",
                    "orderId": done.refund_id,
                    "origOrderId": payment.payment_id,
                    "txnAmt": minor_to_yuan(done.amount_minor),
                    "queryId": done.channel_refund_id,
                    "origRespCode": "00",
                }
            )
        return None

    def statement(self, day: object) -> bytes:
        assert isinstance(day, date)
        lines = [f"H|{self.keys.merchant_id}|{day:%Y%m%d}"]
        count = total = fees = 0
        for payment in self.state.paid_on(self.channel, day):
            fee = fee_for(self.channel, payment.amount_minor)
            lines.append(
                "|".join(
                    [
                        "D",
                        "01",
                        payment.payment_id,
                        payment.transaction_id,
                        self._time(payment.paid_at),
                        minor_to_yuan(payment.amount_minor),
                        minor_to_yuan(fee),
                        "156",
                        "",
                    ]
                )
            )
            count, total, fees = count + 1, total + payment.amount_minor, fees + fee
        for payment, done in self.state.refunds_on(self.channel, day):
            lines.append(
                "|".join(
                    [
                        "D",
                        "04",
                        done.refund_id,
                        done.channel_refund_id,
                        self._time(done.refunded_at),
                        minor_to_yuan(done.amount_minor),
                        minor_to_yuan(-done.fee_returned_minor),
                        "156",
                        payment.payment_id,
                    ]
                )
            )
            count, total, fees = (
                count + 1,
                total - done.amount_minor,
                fees - done.fee_returned_minor,
            )
        lines.append(f"T|{count}|{minor_to_yuan(total)}|{minor_to_yuan(fees)}")
        return ("\n".join(lines) + "\n").encode()
