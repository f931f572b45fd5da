"""Alipay open API (支付宝): precreate (the payer scans our QR), trade.pay (the till scans the
payer's code), query, close, refund, async notifications and the trade bill.

Signing (RSA2) and verification are python-alipay-sdk's (``AliPay.sign_data``, ``verify``
and its sync-answer check); the HTTP is ours because the SDK posts with blocking ``urlopen``
to a gateway fixed by its ``debug`` flag (docs/decisions/0011).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError

from tongka.payments.adapters._http import ChannelHttp, china_time, iter_lines, parse_china_time
from tongka.payments.amounts import minor_to_yuan, require_cny, yuan_to_minor
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

GATEWAY_PATH = "/alipay/gateway.do"
TRADE_STATUSES = {
    "WAIT_BUYER_PAY": ChannelPaymentStatus.PENDING,
    "TRADE_SUCCESS": ChannelPaymentStatus.SUCCEEDED,
    "TRADE_FINISHED": ChannelPaymentStatus.SUCCEEDED,
    "TRADE_CLOSED": ChannelPaymentStatus.CLOSED,
}
FUND_CHANNELS = {  # fund_bill_list[].fund_channel
    "ALIPAYACCOUNT": FundingType.BALANCE,
    "DEBIT_CARD": FundingType.DEBIT_CARD,
    "CREDIT_CARD": FundingType.CREDIT_CARD,
    "PCREDIT": FundingType.CREDIT_CARD,  # 花呗 counts as credit
}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def fund_channel_for(funding: FundingType) -> str:
    return {
        FundingType.BALANCE: "ALIPAYACCOUNT",
        FundingType.DEBIT_CARD: "DEBIT_CARD",
        FundingType.CREDIT_CARD: "CREDIT_CARD",
    }.get(funding, "ALIPAYACCOUNT")


def funding_from_bills(fund_bill_list: object) -> FundingType:
    bills: Any = json.loads(fund_bill_list) if isinstance(fund_bill_list, str) else fund_bill_list
    if not bills:
        return FundingType.UNKNOWN
    kinds = {
        FUND_CHANNELS.get(bill.get("fund_channel") or bill.get("fundChannel"), FundingType.UNKNOWN)
        for bill in bills
    }
    if FundingType.CREDIT_CARD in kinds:
        return FundingType.CREDIT_CARD  # any credit part makes it a credit payment
    return kinds.pop() if len(kinds) == 1 else FundingType.UNKNOWN


def signer(app_id: str, private_pem: str, peer_public_pem: str) -> AliPay:
    """An SDK object used only for its RSA2 signing and verification."""
    return AliPay(
        appid=app_id,
        app_private_key_string=private_pem,
        alipay_public_key_string=peer_public_pem,
        sign_type="RSA2",
    )


class Alipay:
    name = ChannelName.ALIPAY
    methods = frozenset({PaymentMethod.NATIVE_QR, PaymentMethod.PAYMENT_CODE})

    def __init__(
        self, keys: ChannelKeys, base_url: str, *, http: httpx.AsyncClient | None = None
    ) -> None:
        self.keys = keys
        self._http = ChannelHttp(base_url, http)
        self._sdk = signer(keys.app_id, keys.merchant_private_pem, keys.platform_public_pem)

    async def _call(
        self, method: str, biz: Mapping[str, Any], *, notify_url: str | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "app_id": self.keys.app_id,
            "method": method,
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": china_time(datetime.now(UTC)).strftime(TIME_FORMAT),
            "version": "1.0",
            "biz_content": dict(biz),
        }
        if notify_url:
            data["notify_url"] = notify_url
        signed = self._sdk.sign_data(data)
        response = await self._http.send(
            "POST",
            GATEWAY_PATH,
            content=signed.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        response_type = method.replace(".", "_") + "_response"
        try:
            answer: dict[str, Any] = self._sdk._verify_and_return_sync_response(
                response.text, response_type
            )
        except AliPayValidationError as exc:
            raise ChannelError("Alipay's answer has an invalid signature") from exc
        except AliPayException as exc:
            raise ChannelError(f"Alipay refused: {exc}", is_retryable=False) from exc
        except (ValueError, KeyError) as exc:
            raise ChannelError("Alipay's answer is not JSON") from exc
        code = answer.get("code")
        if code not in {"10000", "10003"}:
            sub = answer.get("sub_code", "")
            raise ChannelError(
                f"Alipay refused: {code} {sub} {answer.get('sub_msg', '')}".strip(),
                is_retryable=code in {"20000"} or sub == "ACQ.SYSTEM_ERROR",
                details={"channel_code": sub or code},
            )
        return answer

    async def create_payment(self, request: PaymentRequest) -> PaymentInstructions:
        require_cny(request.currency)
        biz: dict[str, Any] = {
            "out_trade_no": request.payment_id,
            "total_amount": minor_to_yuan(request.amount_minor),
            "subject": request.description[:256],
            "time_expire": china_time(request.expires_at).strftime(TIME_FORMAT),
        }
        if request.method == PaymentMethod.NATIVE_QR:
            answer = await self._call("alipay.trade.precreate", biz, notify_url=request.notify_url)
            return PaymentInstructions(
                self.name, request.method, request.payment_id, code_url=answer["qr_code"]
            )
        if request.method == PaymentMethod.PAYMENT_CODE:
            if not request.payer_code:
                raise ChannelError(
                    "a payment code payment needs the scanned code", is_retryable=False
                )
            biz.update(scene="bar_code", auth_code=request.payer_code)
            answer = await self._call("alipay.trade.pay", biz, notify_url=request.notify_url)
            status = (
                ChannelPaymentStatus.SUCCEEDED
                if answer["code"] == "10000"
                else ChannelPaymentStatus.PENDING
            )
            return PaymentInstructions(
                self.name,
                request.method,
                request.payment_id,
                immediate_result=self._payment(answer, status=status),
            )
        raise ChannelError(f"Alipay has no method {request.method}", is_retryable=False)

    async def query_payment(self, payment_id: str) -> ChannelPayment:
        answer = await self._call("alipay.trade.query", {"out_trade_no": payment_id})
        return self._payment(answer)

    async def close_payment(self, payment_id: str) -> None:
        await self._call("alipay.trade.close", {"out_trade_no": payment_id})

    async def refund(self, request: RefundRequest) -> ChannelRefund:
        require_cny(request.currency)
        answer = await self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": request.payment_id,
                "refund_amount": minor_to_yuan(request.amount_minor),
                "out_request_no": request.refund_id,
                "refund_reason": request.reason[:256],
            },
        )
        return ChannelRefund(
            channel=self.name,
            refund_id=request.refund_id,
            status=ChannelRefundStatus.SUCCEEDED
            if answer.get("fund_change") == "Y"
            else ChannelRefundStatus.PROCESSING,
            amount_minor=yuan_to_minor(answer.get("refund_amount") or answer["refund_fee"]),
            currency=request.currency,
            channel_refund_id=answer.get("trade_no"),
        )

    def _payment(
        self, data: Mapping[str, Any], *, status: ChannelPaymentStatus | None = None
    ) -> ChannelPayment:
        if status is None:
            trade_status = data.get("trade_status", "")
            if trade_status not in TRADE_STATUSES:
                raise ChannelError(
                    f"unknown Alipay trade_status {trade_status!r}", is_retryable=False
                )
            status = TRADE_STATUSES[trade_status]
        return ChannelPayment(
            channel=self.name,
            payment_id=data["out_trade_no"],
            status=status,
            amount_minor=yuan_to_minor(data["total_amount"]),
            currency=data.get("trans_currency", "CNY"),
            channel_transaction_id=data.get("trade_no"),
            paid_at=parse_china_time(
                data.get("gmt_payment") or data.get("send_pay_date"), TIME_FORMAT
            ),
            funding_type=funding_from_bills(data.get("fund_bill_list")),
            payer_account_name=data.get("buyer_logon_id"),
            raw=dict(data),
        )

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelPayment:
        try:
            fields = dict(
                parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise ForgedNotification("notification is not a form") from exc
        signature = fields.pop("sign", None)
        unsigned = dict(fields)
        if not signature or unsigned.get("sign_type") != "RSA2":
            raise ForgedNotification("Alipay notification is not RSA2-signed")
        try:
            valid = self._sdk.verify(dict(unsigned), signature)
        except (ValueError, TypeError, AliPayException):
            valid = False
        if not valid:
            raise ForgedNotification("Alipay notification signature does not verify")
        if fields.get("app_id") != self.keys.app_id:
            raise ForgedNotification("notification for another app")
        try:
            return self._payment(fields)
        except (KeyError, ChannelError) as exc:
            raise ForgedNotification(f"notification cannot be read: {exc}") from exc

    def notification_ack(self, *, accepted: bool) -> NotificationAck:
        return NotificationAck(200, b"success" if accepted else b"fail", "text/plain")

    async def download_statement(self, statement_date: date) -> bytes:
        answer = await self._call(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": statement_date.isoformat()},
        )
        response = await self._http.send("GET", answer["bill_download_url"])
        if response.status_code != 200:
            raise ChannelError(f"Alipay bill download answered {response.status_code}")
        return response.content

    def parse_statement(self, content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
        return parse_trade_bill(content)


def parse_trade_bill(content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
    """The trade bill (业务明细, GBK as Alipay writes it): ``#`` comment lines before and after,
    a header, one line per payment or refund; 服务费 is negative on payments (kept by Alipay)
    and positive on refunds (given back). Streamed line by line."""
    columns: dict[str, int] | None = None
    for raw in iter_lines(content):
        line = raw.decode("gbk").strip()
        if not line or line.startswith("#"):
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if columns is None:
            columns = {name: index for index, name in enumerate(cells)}
            continue
        row = {name: cells[index] for name, index in columns.items()}
        is_refund = row["业务类型"] == "退款"
        occurred = parse_china_time(row["完成时间"], TIME_FORMAT)
        assert occurred is not None
        yield StatementLine(
            channel=ChannelName.ALIPAY,
            trade_date=china_time(occurred).date(),
            kind=StatementLineKind.REFUND if is_refund else StatementLineKind.PAYMENT,
            payment_id=row["商户订单号"],
            channel_transaction_id=row["支付宝交易号"] or None,
            amount_minor=abs(yuan_to_minor(row["订单金额（元）"])),
            fee_minor=-yuan_to_minor(row["服务费（元）"]),
            currency="CNY",
            occurred_at=occurred,
            refund_id=(row["退款批次号/请求号"] or None) if is_refund else None,
        )
