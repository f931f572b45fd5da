"""The sandbox playing the reserve account's bank: it expects transfers by reference, the
payer page "transfers" (and the bank tells us, HMAC-signed like finance's record), answers
queries, pays refunds back, and writes the account statement CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from tongka.payments.adapters.bank_transfer import (
    SIGNATURE_HEADER,
    STATEMENT_COLUMNS,
    bank_reference,
    payment_id_from_reference,
    sign,
)
from tongka.payments.amounts import minor_to_yuan, yuan_to_minor
from tongka.payments.channel import ChannelName
from tongka.payments.sandbox.base import ChannelSandbox, Message
from tongka.payments.sandbox.state import (
    CHINA,
    GatewayPayment,
    GatewayRefund,
    fee_for,
    transaction_id,
)

PAYER_NAME = "上海示例科技有限公司"
PAYER_ACCOUNT = "31050161393600000123"


class BankSandbox(ChannelSandbox):
    channel = ChannelName.BANK_TRANSFER

    def _answer(
        self, data: Any, *, status: int = 200, media_type: str = "application/json"
    ) -> Response:
        body = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
        return Response(
            body,
            status_code=status,
            media_type=media_type,
            headers={SIGNATURE_HEADER: sign(body, self.keys.secret)},
        )

    def transfer(
        self,
        payment: GatewayPayment,
        *,
        amount_minor: int | None = None,
        payment_id: str | None = None,
        paid: bool | None = None,
    ) -> dict[str, Any]:
        paid = payment.status == "SUCCEEDED" if paid is None else paid
        status = "RECEIVED" if paid else {"CLOSED": "CLOSED"}.get(payment.status, "EXPECTED")
        if paid and payment.refunds and payment.refunded_minor == payment.amount_minor:
            status = "REFUNDED"
        data: dict[str, Any] = {
            "reference": bank_reference(payment_id or payment.payment_id),
            "amount": minor_to_yuan(payment.amount_minor if amount_minor is None else amount_minor),
            "currency": payment.currency,
            "status": status,
        }
        if paid:
            data.update(
                payer_account_name=PAYER_NAME,
                payer_account_number=PAYER_ACCOUNT,
                bank_transaction_id=payment.transaction_id,
                received_at=payment.paid_at.isoformat() if payment.paid_at else None,
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
        body = json.dumps(
            self.transfer(payment, amount_minor=amount_minor, payment_id=payment_id, paid=paid),
            ensure_ascii=False,
        ).encode()
        secret = "forged-" + self.keys.secret if forged else self.keys.secret
        return {SIGNATURE_HEADER: sign(body, secret), "Content-Type": "application/json"}, body

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/bank", tags=["bank"])

        async def receive(request: Request) -> Any:
            body = await request.body()
            if request.headers.get(SIGNATURE_HEADER, "") != sign(body, self.keys.secret):
                return None
            return json.loads(body) if body else {}

        def payment_of(reference: str) -> GatewayPayment | None:
            payment_id = payment_id_from_reference(reference)
            return self.state.get(self.channel, payment_id) if payment_id else None

        @router.post("/expected")
        async def expected(request: Request) -> Response:
            data = await receive(request)
            if data is None:
                return self._answer({"error": "bad signature"}, status=401)
            payment_id = payment_id_from_reference(data["reference"])
            if payment_id is None:
                return self._answer({"error": "bad reference"}, status=400)
            if self.state.get(self.channel, payment_id) is None:
                self.state.add(
                    GatewayPayment(
                        channel=self.channel,
                        payment_id=payment_id,
                        amount_minor=yuan_to_minor(data["amount"]),
                        currency="CNY",
                        description=data.get("description", ""),
                        notify_url=data.get("notify_url", ""),
                        method="BANK",
                        created_at=self.state.now(),
                        transaction_id=transaction_id("BK"),
                    )
                )
            return self._answer({"reference": data["reference"], "status": "EXPECTED"})

        @router.get("/transfers/{reference}")
        async def query(reference: str, request: Request) -> Response:
            if await receive(request) is None:
                return self._answer({"error": "bad signature"}, status=401)
            payment = payment_of(reference)
            return (
                self._answer(self.transfer(payment))
                if payment
                else self._answer({"error": "unknown reference"}, status=404)
            )

        @router.post("/transfers/{reference}/close")
        async def close(reference: str, request: Request) -> Response:
            if await receive(request) is None:
                return self._answer({"error": "bad signature"}, status=401)
            payment = payment_of(reference)
            if payment is None:
                return self._answer({"error": "unknown reference"}, status=404)
            if payment.status == "PENDING":
                payment.status = "CLOSED"
            return self._answer(self.transfer(payment))

        @router.post("/refunds")
        async def refund(request: Request) -> Response:
            data = await receive(request)
            if data is None:
                return self._answer({"error": "bad signature"}, status=401)
            payment = payment_of(data["reference"])
            if payment is None or payment.status != "SUCCEEDED":
                return self._answer({"error": "no received transfer"}, status=404)
            amount = yuan_to_minor(data["amount"])
            done = next((r for r in payment.refunds if r.refund_id == data["refund_id"]), None)
            if done is None:
                if amount <= 0 or amount > payment.amount_minor - payment.refunded_minor:
                    return self._answer({"error": "more than received"}, status=400)
                done = GatewayRefund(
                    data["refund_id"], amount, self.state.now(), transaction_id("BK"), 0
                )
                payment.refunds.append(done)
            return self._answer(
                {
                    "refund_id": done.refund_id,
                    "amount": minor_to_yuan(done.amount_minor),
                    "bank_transaction_id": done.channel_refund_id,
                }
            )

        @router.get("/statements/{day}.csv")
        async def statement(day: date, request: Request) -> Response:
            if await receive(request) is None:
                return self._answer({"error": "bad signature"}, status=401)
            return self._answer(self.statement(day), media_type="text/csv")

        return router

    def statement(self, day: object) -> bytes:
        assert isinstance(day, date)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(STATEMENT_COLUMNS)

        def at(value: datetime) -> list[str]:
            local = value.astimezone(CHINA)
            return [local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")]

        for payment in self.state.paid_on(self.channel, day):
            assert payment.paid_at is not None
            writer.writerow(
                [
                    *at(payment.paid_at),
                    payment.transaction_id,
                    "贷",
                    minor_to_yuan(payment.amount_minor),
                    minor_to_yuan(fee_for(self.channel, payment.amount_minor)),
                    PAYER_NAME,
                    PAYER_ACCOUNT,
                    bank_reference(payment.payment_id),
                ]
            )
        for payment, done in self.state.refunds_on(self.channel, day):
            writer.writerow(
                [
                    *at(done.refunded_at),
                    done.channel_refund_id,
                    "借",
                    minor_to_yuan(done.amount_minor),
                    "0.00",
                    PAYER_NAME,
                    PAYER_ACCOUNT,
                    f"REFUND {done.refund_id} {bank_reference(payment.payment_id)}",
                ]
            )
        return out.getvalue().encode("utf-8")
