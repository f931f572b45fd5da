"""Bank transfer (对公转账) into the reserve account, matched by a unique reference.

There is no payment API at a bank: we show the payer our account and a reference to quote;
money is known to have arrived when finance records an incoming transfer (or imports the
bank statement CSV). Such a record enters Tongka as a "notification" like any channel's,
HMAC-signed with the bank key (sandbox-keys), so the payments service treats every channel
the same way and a hand-made message is refused. The sandbox gateway plays the bank: the
payer page "transfers", and it serves the statement and answers queries.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

import httpx

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

SIGNATURE_HEADER = "X-Bank-Signature"
RESERVE_ACCOUNT_NAME = "通卡支付科技有限公司备付金账户"
RESERVE_BANK_NAME = "中国工商银行上海分行"
STATEMENT_COLUMNS = (
    "交易日期",
    "交易时间",
    "流水号",
    "借贷",
    "金额",
    "手续费",
    "对方户名",
    "对方账号",
    "附言",
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def bank_reference(payment_id: str) -> str:
    """The reference the payer quotes: our payment id with a mod-97 check (ISO 7064) so a
    mistyped reference does not match another payment."""
    digits = "".join(str(int(ch, 36)) for ch in payment_id.upper() if ch.isalnum())
    check = 98 - (int(digits + "00") % 97) if digits else 0
    return f"{payment_id}-{check:02d}"


def payment_id_from_reference(reference: str) -> str | None:
    payment_id, _, check = reference.strip().rpartition("-")
    if not payment_id or bank_reference(payment_id) != f"{payment_id}-{check}":
        return None
    return payment_id


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class BankTransfer:
    name = ChannelName.BANK_TRANSFER
    methods = frozenset({PaymentMethod.BANK_TRANSFER})

    def __init__(
        self, keys: ChannelKeys, base_url: str, *, http: httpx.AsyncClient | None = None
    ) -> None:
        self.keys = keys
        self._http = ChannelHttp(base_url, http)

    def _headers(self, body: bytes) -> dict[str, str]:
        return {SIGNATURE_HEADER: sign(body, self.keys.secret), "Content-Type": "application/json"}

    async def _call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> Any:
        body = json.dumps(payload).encode() if payload is not None else b""
        response = await self._http.send(
            method, path, content=body or None, headers=self._headers(body)
        )
        if not hmac.compare_digest(
            response.headers.get(SIGNATURE_HEADER, ""), sign(response.content, self.keys.secret)
        ):
            raise ChannelError("the bank's answer has an invalid signature")
        if response.status_code >= 400:
            raise ChannelError(f"the bank refused: {response.text[:200]}", is_retryable=False)
        return (
            response.json()
            if response.content
            and response.headers.get("content-type", "").startswith("application/json")
            else response.content
        )

    async def create_payment(self, request: PaymentRequest) -> PaymentInstructions:
        require_cny(request.currency)
        reference = bank_reference(request.payment_id)
        await self._call(
            "POST",
            "/bank/expected",
            {
                "reference": reference,
                "payment_id": request.payment_id,
                "amount": minor_to_yuan(request.amount_minor),
                "description": request.description,
                "notify_url": request.notify_url,
                "expires_at": request.expires_at.isoformat(),
            },
        )
        return PaymentInstructions(
            self.name,
            request.method,
            request.payment_id,
            bank_reference=reference,
            bank_account_name=RESERVE_ACCOUNT_NAME,
            bank_account_number=self.keys.merchant_id,
            bank_name=RESERVE_BANK_NAME,
        )

    async def query_payment(self, payment_id: str) -> ChannelPayment:
        data = await self._call("GET", f"/bank/transfers/{bank_reference(payment_id)}")
        return self._payment(data)

    async def close_payment(self, payment_id: str) -> None:
        await self._call("POST", f"/bank/transfers/{bank_reference(payment_id)}/close", {})

    async def refund(self, request: RefundRequest) -> ChannelRefund:
        """Pays the money back to the account it came from (an outgoing transfer)."""
        require_cny(request.currency)
        data = await self._call(
            "POST",
            "/bank/refunds",
            {
                "reference": bank_reference(request.payment_id),
                "refund_id": request.refund_id,
                "amount": minor_to_yuan(request.amount_minor),
                "reason": request.reason,
            },
        )
        return ChannelRefund(
            self.name,
            request.refund_id,
            ChannelRefundStatus.SUCCEEDED,
            yuan_to_minor(data["amount"]),
            request.currency,
            data.get("bank_transaction_id"),
        )

    def recorded_transfer(
        self,
        *,
        reference: str,
        amount_minor: int,
        currency: str,
        payer_account_name: str,
        payer_account_number: str,
        received_at: datetime,
        bank_transaction_id: str,
    ) -> tuple[dict[str, str], bytes]:
        """Finance recorded an incoming transfer: the signed "notification" (headers, body)
        to hand to the payments service like any channel's."""
        require_cny(currency)
        body = json.dumps(
            {
                "reference": reference,
                "amount": minor_to_yuan(amount_minor),
                "currency": currency,
                "payer_account_name": payer_account_name,
                "payer_account_number": payer_account_number,
                "received_at": received_at.astimezone(UTC).isoformat(),
                "bank_transaction_id": bank_transaction_id,
                "status": "RECEIVED",
            },
            ensure_ascii=False,
        ).encode()
        return self._headers(body), body

    def _payment(self, data: Mapping[str, Any]) -> ChannelPayment:
        payment_id = payment_id_from_reference(str(data.get("reference", "")))
        if payment_id is None:
            raise ChannelError(
                f"reference {data.get('reference')!r} matches no payment", is_retryable=False
            )
        status = {
            "EXPECTED": ChannelPaymentStatus.PENDING,
            "RECEIVED": ChannelPaymentStatus.SUCCEEDED,
            "CLOSED": ChannelPaymentStatus.CLOSED,
            "REFUNDED": ChannelPaymentStatus.REFUNDED,
        }[data.get("status", "EXPECTED")]
        return ChannelPayment(
            channel=self.name,
            payment_id=payment_id,
            status=status,
            amount_minor=yuan_to_minor(str(data["amount"])),
            currency=data.get("currency", "CNY"),
            channel_transaction_id=data.get("bank_transaction_id"),
            paid_at=datetime.fromisoformat(data["received_at"])
            if data.get("received_at")
            else None,
            funding_type=FundingType.BANK_ACCOUNT,
            payer_account_name=data.get("payer_account_name"),
            payer_account_number=data.get("payer_account_number"),
            payee_account_name=RESERVE_ACCOUNT_NAME,
            payee_account_number=self.keys.merchant_id,
            raw=dict(data),
        )

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelPayment:
        given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER.lower(), "")
        if not hmac.compare_digest(given, sign(body, self.keys.secret)):
            raise ForgedNotification("bank transfer record signature does not verify")
        try:
            return self._payment(json.loads(body))
        except (ValueError, KeyError, ChannelError) as exc:
            raise ForgedNotification(f"bank transfer record cannot be read: {exc}") from exc

    def notification_ack(self, *, accepted: bool) -> NotificationAck:
        return NotificationAck(
            200 if accepted else 400, b"OK" if accepted else b"REFUSED", "text/plain"
        )

    async def download_statement(self, statement_date: date) -> bytes:
        content = await self._call("GET", f"/bank/statements/{statement_date.isoformat()}.csv")
        return content if isinstance(content, bytes) else json.dumps(content).encode()

    def parse_statement(self, content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
        return parse_bank_csv(content)


def parse_bank_csv(content: bytes | Iterable[bytes]) -> Iterator[StatementLine]:
    """The bank statement CSV (one header, one line per movement; 贷 = in, 借 = out; the
    reference in 附言), streamed. Lines whose reference matches no payment are skipped: they
    are not ours to match (other money on the account)."""
    header: list[str] | None = None
    for raw in iter_lines(content):
        text = raw.decode("utf-8-sig")
        if not text.strip():
            continue
        cells = next(csv.reader(io.StringIO(text)))
        if header is None:
            header = cells
            continue
        row = dict(zip(header, cells, strict=True))
        note = row["附言"].split()
        is_refund = row["借贷"] == "借"
        refund_id = None
        if is_refund and len(note) == 3 and note[0] == "REFUND":
            refund_id, reference = note[1], note[2]
        elif note:
            reference = note[0]
        else:
            continue
        payment_id = payment_id_from_reference(reference)
        if payment_id is None:
            continue
        occurred = parse_china_time(f"{row['交易日期']} {row['交易时间']}", TIME_FORMAT)
        assert occurred is not None
        yield StatementLine(
            channel=ChannelName.BANK_TRANSFER,
            trade_date=china_time(occurred).date(),
            kind=StatementLineKind.REFUND if is_refund else StatementLineKind.PAYMENT,
            payment_id=payment_id,
            channel_transaction_id=row["流水号"] or None,
            amount_minor=yuan_to_minor(row["金额"]),
            fee_minor=yuan_to_minor(row["手续费"]),
            currency="CNY",
            occurred_at=occurred,
            refund_id=refund_id,
        )
