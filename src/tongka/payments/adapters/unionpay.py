"""UnionPay (银联) in the shape of its ACP gateway (version 5.1.0): form-encoded messages
signed RSA-SHA256 (``signMethod=01``: the SHA-256 hex digest of the sorted ``key=value``
string, signed PKCS#1 v1.5 with SHA-256), QR applications (申码, ``txnSubType=07``), payment
codes (``txnSubType=06``), query, cancel (close), refund, back notifications and a
``|``-delimited daily file. ``txnAmt`` is yuan as a decimal string here, as the channel
interface says (ACP itself uses fen; the sandbox speaks the interface's form).

No SDK: UnionPay ships none for Python; ``cryptography`` does the RSA.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

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

BACK_PATH = "/unionpay/gateway/api/backTransReq.do"
QUERY_PATH = "/unionpay/gateway/api/queryTrans.do"
FILE_PATH = "/unionpay/gateway/api/fileTransRequest.do"
TIME_FORMAT = "%Y%m%d%H%M%S"
PAY_CARD_TYPES = {
    "01": FundingType.DEBIT_CARD,  # 借记账户
    "02": FundingType.CREDIT_CARD,  # 贷记账户
    "03": FundingType.CREDIT_CARD,  # 准贷记账户
    "05": FundingType.BALANCE,  # 预付费账户 (the wallet's balance)
}


def pay_card_type_for(funding: FundingType) -> str:
    return {
        FundingType.DEBIT_CARD: "01",
        FundingType.CREDIT_CARD: "02",
        FundingType.BALANCE: "05",
    }.get(funding, "00")


def signing_string(fields: Mapping[str, str]) -> str:
    return "&".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "signature")


def sign_fields(fields: Mapping[str, str], private_key: rsa.RSAPrivateKey) -> str:
    digest = hashlib.sha256(signing_string(fields).encode()).hexdigest()
    signature = private_key.sign(digest.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify_fields(fields: Mapping[str, str], public_key: rsa.RSAPublicKey) -> bool:
    signature = fields.get("signature")
    if not signature:
        return False
    digest = hashlib.sha256(signing_string(fields).encode()).hexdigest()
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True),
            digest.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def parse_form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))


class UnionPay:
    name = ChannelName.UNIONPAY
    methods = frozenset({PaymentMethod.NATIVE_QR, PaymentMethod.PAYMENT_CODE})

    def __init__(
        self, keys: ChannelKeys, base_url: str, *, http: httpx.AsyncClient | None = None
    ) -> None:
        self.keys = keys
        self._http = ChannelHttp(base_url, http)
        self._private_key = keys.merchant_private_key()
        self._platform_key = keys.platform_public_key()

    async def _call(self, path: str, fields: dict[str, str]) -> dict[str, str]:
        message = {
            "version": "5.1.0",
            "encoding": "UTF-8",
            "signMethod": "01",
            "accessType": "0",
            "merId": self.keys.merchant_id,
            "certId": self.keys.merchant_serial,
            "txnTime": china_time(datetime.now(UTC)).strftime(TIME_FORMAT),
            **fields,
        }
        message["signature"] = sign_fields(message, self._private_key)
        response = await self._http.send("POST", path, data=message)
        try:
            answer = parse_form(response.content)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ChannelError("UnionPay's answer is not a form") from exc
        if not verify_fields(answer, self._platform_key):
            raise ChannelError("UnionPay's answer has an invalid signature")
        if answer.get("respCode") != "00":
            code = answer.get("respCode", "")
            raise ChannelError(
                f"UnionPay refused: {code} {answer.get('respMsg', '')}".strip(),
                is_retryable=code in {"03", "04", "05"},
                details={"channel_code": code},
            )
        return answer

    async def create_payment(self, request: PaymentRequest) -> PaymentInstructions:
        require_cny(request.currency)
        fields = {
            "txnType": "01",
            "bizType": "000000",
            "orderId": request.payment_id,
            "txnAmt": minor_to_yuan(request.amount_minor),
            "currencyCode": "156",
            "orderDesc": request.description[:32],
            "payTimeout": china_time(request.expires_at).strftime(TIME_FORMAT),
            "backUrl": request.notify_url,
        }
        if request.method == PaymentMethod.NATIVE_QR:
            answer = await self._call(BACK_PATH, {**fields, "txnSubType": "07"})
            return PaymentInstructions(
                self.name, request.method, request.payment_id, code_url=answer["qrCode"]
            )
        if request.method == PaymentMethod.PAYMENT_CODE:
            if not request.payer_code:
                raise ChannelError(
                    "a payment code payment needs the scanned code", is_retryable=False
                )
            answer = await self._call(
                BACK_PATH, {**fields, "txnSubType": "06", "qrNo": request.payer_code}
            )
            return PaymentInstructions(
                self.name,
                request.method,
                request.payment_id,
                immediate_result=self._payment(answer),
            )
        raise ChannelError(f"UnionPay has no method {request.method}", is_retryable=False)

    async def query_payment(self, payment_id: str) -> ChannelPayment:
        answer = await self._call(
            QUERY_PATH,
            {"txnType": "00", "txnSubType": "00", "bizType": "000000", "orderId": payment_id},
        )
        return self._payment(answer)

    async def close_payment(self, payment_id: str) -> None:
        await self._call(
            BACK_PATH,
            {
                "txnType": "31",
                "txnSubType": "00",
                "bizType": "000000",
                "origOrderId": payment_id,
                "orderId": f"{payment_id}C",
            },
        )

    async def refund(self, request: RefundRequest) -> ChannelRefund:
        require_cny(request.currency)
        answer = await self._call(
            BACK_PATH,
            {
                "txnType": "04",
                "txnSubType": "00",
                "bizType": "000000",
                "orderId": request.refund_id,
                "origOrderId": request.payment_id,
                "origQryId": request.channel_transaction_id or "",
                "txnAmt": minor_to_yuan(request.amount_minor),
                "currencyCode": "156",
                "backUrl": request.notify_url or "",
            },
        )
        return ChannelRefund(
            channel=self.name,
            refund_id=request.refund_id,
            status=ChannelRefundStatus.SUCCEEDED
            if answer.get("origRespCode", "00") == "00"
            else ChannelRefundStatus.PROCESSING,
            amount_minor=yuan_to_minor(answer["txnAmt"]),
            currency=request.currency,
            channel_refund_id=answer.get("queryId"),
        )

    def _payment(self, data: Mapping[str, str]) -> ChannelPayment:
        status_code = data.get("origRespCode", data.get("respCode"))
        if data.get("orderStatus") == "CLOSED":
            status = ChannelPaymentStatus.CLOSED
        elif data.get("orderStatus") == "REFUNDED":
            status = ChannelPaymentStatus.REFUNDED
        elif status_code == "00":
            status = ChannelPaymentStatus.SUCCEEDED
        elif status_code in {"03", "04", "05"}:
            status = ChannelPaymentStatus.PENDING
        else:
            status = ChannelPaymentStatus.FAILED
        return ChannelPayment(
            channel=self.name,
            payment_id=data.get("origOrderId") or data["orderId"],
            status=status,
            amount_minor=yuan_to_minor(data["txnAmt"]),
            currency="CNY" if data.get("currencyCode", "156") == "156" else data["currencyCode"],
            channel_transaction_id=data.get("queryId") or None,
            paid_at=parse_china_time(data.get("traceTime") or None, TIME_FORMAT)
            if status == ChannelPaymentStatus.SUCCEEDED
            else None,
            funding_type=PAY_CARD_TYPES.get(data.get("payCardType", ""), FundingType.UNKNOWN),
            payer_account_number=data.get("accNo") or None,
            raw=dict(data),
        )

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelPayment:
        try:
            fields = parse_form(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ForgedNotification("notification is not a form") from exc
        if not verify_fields(fields, self._platform_key):
            raise ForgedNotification("UnionPay notification signature does not verify")
        if fields.get("merId") != self.keys.merchant_id:
            raise ForgedNotification("notification for another merchant")
        try:
            return self._payment(fields)
        except (KeyError, ChannelError) as exc:
            raise ForgedNotification(f"notification cannot be read: {exc}") from exc

    def notification_ack(self, *, accepted: bool) -> NotificationAck:
        return NotificationAck(
            200 if accepted else 400, b"ok" if accepted else b"fail", "text/plain"
        )

    async def download_statement(self, statement_date: date) -> bytes:
        answer = await self._call(
            FILE_PATH,
            {
                "txnType": "76",
                "txnSubType": "01",
                "bizType": "000000",
                "settleDate": statement_date.strftime("%m%d"),
                "fileType": "00",
            },
        )
        return base64.b64decode(answer["fileContent"])

    def parse_statement(self, content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
        return parse_settle_file(content)


def parse_settle_file(content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
    """The daily file: ``H|`` header, ``D|`` detail lines
    (``D|txnType|orderId|queryId|txnTime|txnAmt|fee|currency|origOrderId``, yuan), ``T|``
    trailer with count and sums. Streamed line by line."""
    for raw in iter_lines(content):
        line = raw.decode("utf-8").strip()
        if not line.startswith("D|"):
            continue
        _, txn_type, order_id, query_id, txn_time, amount, fee, currency, orig_order = line.split(
            "|"
        )
        is_refund = txn_type == "04"
        occurred = parse_china_time(txn_time, TIME_FORMAT)
        assert occurred is not None
        yield StatementLine(
            channel=ChannelName.UNIONPAY,
            trade_date=china_time(occurred).date(),
            kind=StatementLineKind.REFUND if is_refund else StatementLineKind.PAYMENT,
            payment_id=orig_order if is_refund else order_id,
            channel_transaction_id=query_id or None,
            amount_minor=yuan_to_minor(amount),
            fee_minor=yuan_to_minor(fee),
            currency="CNY" if currency == "156" else currency,
            occurred_at=occurred,
            refund_id=order_id if is_refund else None,
        )


def _fields(data: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in data.items()}
