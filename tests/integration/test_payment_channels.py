# ruff: noqa: F811 - pytest fixtures (payment_sandbox, sandbox_settings) from tests.payments_support
"""Each channel adapter against the sandbox gateway, through HTTP in process: create, pay,
the notification verifies, query, close, refund, statement download and parse (exact
amounts and fees); forged, wrong-key and tampered notifications are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI, Request, Response

from tests.payments_support import (  # noqa: F401 - fixtures
    PaymentSandbox,
    open_payment_sandbox,
    payment_sandbox,
    sandbox_settings,
)
from tongka.config import Settings
from tongka.payments.adapters.bank_transfer import BankTransfer
from tongka.payments.channel import (
    ChannelError,
    ChannelName,
    ChannelPaymentStatus,
    ChannelRefundStatus,
    ForgedNotification,
    FundingType,
    PaymentMethod,
    PaymentRequest,
    RefundRequest,
    StatementLineKind,
)

NOTIFY = "http://tongka.test/v1/channels/{}/notify"
QR_CHANNELS = [ChannelName.WECHAT, ChannelName.ALIPAY, ChannelName.UNIONPAY]
FEES = {
    ChannelName.WECHAT: 300,
    ChannelName.ALIPAY: 300,
    ChannelName.UNIONPAY: 250,
    ChannelName.BANK_TRANSFER: 0,
}


def request(
    channel: ChannelName,
    payment_id: str,
    amount: int = 50_000,
    method: PaymentMethod = PaymentMethod.NATIVE_QR,
    **kw: object,
) -> PaymentRequest:
    return PaymentRequest(
        payment_id=payment_id,
        amount_minor=amount,
        currency="CNY",
        description="通卡 500元储值卡",
        method=method,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        notify_url=NOTIFY.format(channel.value),
        **kw,  # type: ignore[arg-type]
    )


def today() -> object:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


@pytest.mark.parametrize("channel", [*QR_CHANNELS, ChannelName.BANK_TRANSFER], ids=str)
async def test_round_trip(payment_sandbox: PaymentSandbox, channel: ChannelName) -> None:
    adapter = payment_sandbox.channels[channel]
    method = (
        PaymentMethod.BANK_TRANSFER
        if channel == ChannelName.BANK_TRANSFER
        else PaymentMethod.NATIVE_QR
    )
    # given a payment created at the channel
    instructions = await adapter.create_payment(request(channel, "pay_rt_1", method=method))
    if channel == ChannelName.BANK_TRANSFER:
        assert instructions.bank_reference
        assert instructions.bank_account_number
    else:
        assert instructions.code_url == f"http://sandbox-gateway.test/pay/{channel.value}/pay_rt_1"
    assert (await adapter.query_payment("pay_rt_1")).status == ChannelPaymentStatus.PENDING
    # when the payer confirms with a debit card
    outcome = await payment_sandbox.pay(channel, "pay_rt_1", funding_type="debit_card")
    # then one notification arrived and verifies
    assert [d["status_code"] for d in outcome["deliveries"]] == [204]
    assert payment_sandbox.inbox is not None
    path, headers, body = payment_sandbox.inbox.received[-1]
    assert path == f"/v1/channels/{channel.value}/notify"
    paid = adapter.parse_notification(headers, body)
    assert (paid.payment_id, paid.status, paid.amount_minor, paid.currency) == (
        "pay_rt_1",
        ChannelPaymentStatus.SUCCEEDED,
        50_000,
        "CNY",
    )
    expected_funding = (
        FundingType.BANK_ACCOUNT if channel == ChannelName.BANK_TRANSFER else FundingType.DEBIT_CARD
    )
    assert paid.funding_type == expected_funding
    assert paid.channel_transaction_id
    assert paid.paid_at
    queried = await adapter.query_payment("pay_rt_1")
    assert (queried.status, queried.amount_minor, queried.channel_transaction_id) == (
        ChannelPaymentStatus.SUCCEEDED,
        50_000,
        paid.channel_transaction_id,
    )
    # a partial refund back the same way; replaying the same refund id changes nothing
    refund = RefundRequest(
        "rf_1", "pay_rt_1", paid.channel_transaction_id, 12_345, 50_000, "CNY", "退卡"
    )
    first = await adapter.refund(refund)
    again = await adapter.refund(refund)
    assert (first.status, first.amount_minor) == (ChannelRefundStatus.SUCCEEDED, 12_345)
    assert again.amount_minor == 12_345
    assert payment_sandbox.gateway.state.get(channel, "pay_rt_1").refunded_minor == 12_345  # type: ignore[union-attr]
    with pytest.raises(ChannelError):
        await adapter.refund(
            RefundRequest("rf_2", "pay_rt_1", None, 40_000, 50_000, "CNY", "too much")
        )
    # and the day's statement lists the payment and the refund with exact fees
    content = await adapter.download_statement(today())  # type: ignore[arg-type]
    lines = list(
        adapter.parse_statement(iter(content[i : i + 7] for i in range(0, len(content), 7)))
    )
    assert [(x.kind, x.payment_id, x.amount_minor, x.fee_minor, x.refund_id) for x in lines] == [
        (StatementLineKind.PAYMENT, "pay_rt_1", 50_000, FEES[channel], None),
        (
            StatementLineKind.REFUND,
            "pay_rt_1",
            12_345,
            -round(FEES[channel] * 12_345 / 50_000),
            "rf_1",
        ),
    ]
    assert lines == list(adapter.parse_statement(content))


@pytest.mark.parametrize("channel", QR_CHANNELS, ids=str)
async def test_close_before_payment(payment_sandbox: PaymentSandbox, channel: ChannelName) -> None:
    adapter = payment_sandbox.channels[channel]
    await adapter.create_payment(request(channel, "pay_close"))
    await adapter.close_payment("pay_close")
    assert (await adapter.query_payment("pay_close")).status == ChannelPaymentStatus.CLOSED


@pytest.mark.parametrize("channel", QR_CHANNELS, ids=str)
async def test_payment_code(payment_sandbox: PaymentSandbox, channel: ChannelName) -> None:
    adapter = payment_sandbox.channels[channel]
    done = await adapter.create_payment(
        request(
            channel, "pay_code", 2_000, PaymentMethod.PAYMENT_CODE, payer_code="134567890123456789"
        )
    )
    assert done.immediate_result is not None
    assert (done.immediate_result.status, done.immediate_result.amount_minor) == (
        ChannelPaymentStatus.SUCCEEDED,
        2_000,
    )
    credit = await adapter.create_payment(
        request(
            channel,
            "pay_code_cc",
            2_000,
            PaymentMethod.PAYMENT_CODE,
            payer_code="134567890123459999",
        )
    )
    assert credit.immediate_result is not None
    assert credit.immediate_result.funding_type == FundingType.CREDIT_CARD
    with pytest.raises(ChannelError):
        await adapter.create_payment(
            request(
                channel,
                "pay_code_no",
                2_000,
                PaymentMethod.PAYMENT_CODE,
                payer_code="134567890123450000",
            )
        )


async def test_wechat_jsapi_parameters_are_signed(payment_sandbox: PaymentSandbox) -> None:
    adapter = payment_sandbox.channels[ChannelName.WECHAT]
    done = await adapter.create_payment(
        request(ChannelName.WECHAT, "pay_js", method=PaymentMethod.JSAPI, payer_openid="o-payer")
    )
    params = done.jsapi_parameters
    assert params is not None
    assert params["package"].startswith("prepay_id=wx")
    assert params["signType"] == "RSA"


@pytest.mark.parametrize("channel", [*QR_CHANNELS, ChannelName.BANK_TRANSFER], ids=str)
async def test_faults(payment_sandbox: PaymentSandbox, channel: ChannelName) -> None:
    adapter = payment_sandbox.channels[channel]
    method = (
        PaymentMethod.BANK_TRANSFER
        if channel == ChannelName.BANK_TRANSFER
        else PaymentMethod.NATIVE_QR
    )
    await adapter.create_payment(request(channel, "pay_f", 10_000, method))
    await payment_sandbox.pay(
        channel,
        "pay_f",
        funding_type="credit_card",
        faults=["duplicate", "out_of_order", "wrong_amount", "other_order"],
    )
    assert payment_sandbox.inbox is not None
    parsed = [adapter.parse_notification(h, b) for _, h, b in payment_sandbox.inbox.received]
    assert [(p.payment_id, p.amount_minor, p.status) for p in parsed] == [
        ("pay_fX", 10_001, ChannelPaymentStatus.SUCCEEDED),
        ("pay_fX", 10_001, ChannelPaymentStatus.SUCCEEDED),
        ("pay_fX", 10_001, ChannelPaymentStatus.PENDING),
    ]
    if channel != ChannelName.BANK_TRANSFER:
        assert parsed[0].funding_type == FundingType.CREDIT_CARD


@pytest.mark.parametrize("channel", [*QR_CHANNELS, ChannelName.BANK_TRANSFER], ids=str)
async def test_forged_and_tampered_notifications_are_refused(
    payment_sandbox: PaymentSandbox, channel: ChannelName
) -> None:
    adapter = payment_sandbox.channels[channel]
    method = (
        PaymentMethod.BANK_TRANSFER
        if channel == ChannelName.BANK_TRANSFER
        else PaymentMethod.NATIVE_QR
    )
    await adapter.create_payment(request(channel, "pay_x", 10_000, method))
    await payment_sandbox.pay(channel, "pay_x", faults=["forged_signature"])
    assert payment_sandbox.inbox is not None
    _, headers, body = payment_sandbox.inbox.received[-1]
    with pytest.raises(ForgedNotification):
        adapter.parse_notification(headers, body)  # signed with the wrong key
    genuine = payment_sandbox.gateway.channels[channel].message(
        payment_sandbox.gateway.state.get(channel, "pay_x"),
        amount_minor=10_000,
        payment_id="pay_x",
        paid=True,
        forged=False,  # type: ignore[arg-type]
    )
    assert adapter.parse_notification(*genuine).amount_minor == 10_000
    tampered = (
        genuine[1]
        .replace(b"10000", b"10001")
        .replace(b"100.00", b"100.01")
        .replace(b"100.00", b"100.01")
    )
    if tampered == genuine[1]:  # WeChat: the amount is inside the ciphertext; flip a byte of it
        tampered = genuine[1].replace(b'"nonce": "', b'"nonce": "0', 1)
    with pytest.raises(ForgedNotification):
        adapter.parse_notification(genuine[0], tampered)
    if channel in {ChannelName.WECHAT, ChannelName.BANK_TRANSFER}:  # signed in headers
        with pytest.raises(ForgedNotification):
            adapter.parse_notification({}, genuine[1])


async def test_bank_transfer_recorded_by_finance(payment_sandbox: PaymentSandbox) -> None:
    bank = payment_sandbox.channels[ChannelName.BANK_TRANSFER]
    assert isinstance(bank, BankTransfer)
    done = await bank.create_payment(
        request(ChannelName.BANK_TRANSFER, "pay_bank", 1_000_000, PaymentMethod.BANK_TRANSFER)
    )
    assert done.bank_reference is not None
    headers, body = bank.recorded_transfer(
        reference=done.bank_reference,
        amount_minor=1_000_000,
        currency="CNY",
        payer_account_name="上海某公司",
        payer_account_number="31050161393600000999",
        received_at=datetime.now(UTC),
        bank_transaction_id="BK1",
    )
    paid = bank.parse_notification(headers, body)
    assert (paid.payment_id, paid.amount_minor, paid.payer_account_name) == (
        "pay_bank",
        1_000_000,
        "上海某公司",
    )
    with pytest.raises(ForgedNotification):
        bank.parse_notification(headers, body.replace(b"10000.00", b"10000.01"))


async def test_cash_succeeds_at_once(payment_sandbox: PaymentSandbox) -> None:
    cash = payment_sandbox.channels[ChannelName.CASH]
    done = await cash.create_payment(
        request(ChannelName.CASH, "pay_cash", 10_000, PaymentMethod.CASH)
    )
    assert done.immediate_result is not None
    assert (done.immediate_result.status, done.immediate_result.funding_type) == (
        ChannelPaymentStatus.SUCCEEDED,
        FundingType.CASH,
    )
    with pytest.raises(ForgedNotification):
        cash.parse_notification({}, b"{}")


async def test_requests_signed_with_another_key_are_refused(
    payment_sandbox: PaymentSandbox,
) -> None:
    from tongka.payments.adapters.alipay import Alipay
    from tongka.payments.adapters.wechat import WeChatPay
    from tongka.payments.keys import new_key_pair

    keys = payment_sandbox.channels[ChannelName.WECHAT].keys  # type: ignore[attr-defined]
    private, public = new_key_pair()
    wrong = keys.__class__(
        **{**keys.__dict__, "merchant_private_pem": private, "merchant_public_pem": public}
    )
    with pytest.raises(ChannelError):
        await WeChatPay(
            wrong, "http://sandbox-gateway.test", http=payment_sandbox.http
        ).create_payment(request(ChannelName.WECHAT, "p"))
    akeys = payment_sandbox.channels[ChannelName.ALIPAY].keys  # type: ignore[attr-defined]
    awrong = akeys.__class__(
        **{**akeys.__dict__, "merchant_private_pem": private, "merchant_public_pem": public}
    )
    with pytest.raises(ChannelError):
        await Alipay(
            awrong, "http://sandbox-gateway.test", http=payment_sandbox.http
        ).create_payment(request(ChannelName.ALIPAY, "p"))


async def test_payer_page_confirms(payment_sandbox: PaymentSandbox) -> None:
    adapter = payment_sandbox.channels[ChannelName.ALIPAY]
    await adapter.create_payment(request(ChannelName.ALIPAY, "pay_page", 8_800))
    page = await payment_sandbox.http.get("/pay/alipay/pay_page")
    assert page.status_code == 200
    assert "¥88.00" in page.text
    assert "确认支付" in page.text
    done = await payment_sandbox.http.post(
        "/pay/alipay/pay_page", data={"action": "confirm", "funding_type": "balance"}
    )
    assert "支付成功" in done.text
    assert (await adapter.query_payment("pay_page")).status == ChannelPaymentStatus.SUCCEEDED


async def test_notifications_reach_an_asgi_app(sandbox_settings: Settings) -> None:
    """The path other parts use: the gateway delivers to an app (here a stand-in for
    /v1/channels/{name}/notify) that verifies with the adapter and answers its ack."""
    seen: list[tuple[str, int]] = []
    receiver = FastAPI()
    holder: dict[str, PaymentSandbox] = {}

    @receiver.post("/v1/channels/{name}/notify")
    async def notify(name: str, http_request: Request) -> Response:
        adapter = holder["sandbox"].channels[ChannelName(name)]
        try:
            paid = adapter.parse_notification(dict(http_request.headers), await http_request.body())
        except ForgedNotification:
            ack = adapter.notification_ack(accepted=False)
        else:
            seen.append((paid.payment_id, paid.amount_minor))
            ack = adapter.notification_ack(accepted=True)
        return Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)

    async with open_payment_sandbox(sandbox_settings, notify_app=receiver) as sandbox:
        holder["sandbox"] = sandbox
        for channel in QR_CHANNELS:
            await sandbox.channels[channel].create_payment(
                request(channel, f"pay_{channel}", 1_000)
            )
            accepted = await sandbox.pay(channel, f"pay_{channel}")
            forged = sandbox.gateway.channels[channel].message(
                sandbox.gateway.state.get(channel, f"pay_{channel}"),  # type: ignore[arg-type]
                amount_minor=1_000,
                payment_id=f"pay_{channel}",
                paid=True,
                forged=True,
            )
            refused = await sandbox.gateway.deliver(NOTIFY.format(channel.value), [forged])
            assert accepted["deliveries"][0]["status_code"] in {200, 204}
            assert refused[0]["status_code"] == 400 or refused[0]["body"] == "fail"
        # delayed and silent deliveries
        await sandbox.channels[ChannelName.WECHAT].create_payment(
            request(ChannelName.WECHAT, "pay_late", 700)
        )
        await sandbox.channels[ChannelName.WECHAT].create_payment(
            request(ChannelName.WECHAT, "pay_quiet", 800)
        )
        late = await sandbox.pay(ChannelName.WECHAT, "pay_late", delay_seconds=0.05)
        quiet = await sandbox.pay(ChannelName.WECHAT, "pay_quiet", faults=["silent"])
        assert (late["scheduled"], quiet["deliveries"]) == (1, [])
        await sandbox.gateway.drain()
        polled = await sandbox.channels[ChannelName.WECHAT].query_payment("pay_quiet")
        assert polled.status == ChannelPaymentStatus.SUCCEEDED
        listed = (await sandbox.http.get("/sandbox/payments", params={"channel": "wechat"})).json()
        assert {p["payment_id"]: p["status"] for p in listed} == {
            "pay_wechat": "SUCCEEDED",
            "pay_late": "SUCCEEDED",
            "pay_quiet": "SUCCEEDED",
        }
    assert seen == [
        ("pay_wechat", 1_000),
        ("pay_alipay", 1_000),
        ("pay_unionpay", 1_000),
        ("pay_late", 700),
    ]


async def test_wechat_refuses_a_replayed_old_notification(payment_sandbox: PaymentSandbox) -> None:
    adapter = payment_sandbox.channels[ChannelName.WECHAT]
    await adapter.create_payment(request(ChannelName.WECHAT, "pay_old", 1_000))
    await payment_sandbox.pay(ChannelName.WECHAT, "pay_old")
    assert payment_sandbox.inbox is not None
    _, headers, body = payment_sandbox.inbox.received[-1]
    old = {**headers, "wechatpay-timestamp": str(int(headers["wechatpay-timestamp"]) - 301)}
    with pytest.raises(ForgedNotification):
        adapter.parse_notification(old, body)  # the signature no longer matches either
    other_serial = {**headers, "wechatpay-serial": "0" * 40}
    with pytest.raises(ForgedNotification):
        adapter.parse_notification(other_serial, body)


async def test_wechat_jsapi_pay_sign_verifies_with_our_public_key(
    payment_sandbox: PaymentSandbox,
) -> None:
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    adapter = payment_sandbox.channels[ChannelName.WECHAT]
    done = await adapter.create_payment(
        request(ChannelName.WECHAT, "pay_js2", method=PaymentMethod.JSAPI, payer_openid="o-1")
    )
    p = done.jsapi_parameters
    assert p is not None
    message = f"{p['appId']}\n{p['timeStamp']}\n{p['nonceStr']}\n{p['package']}\n".encode()
    keys = adapter.keys  # type: ignore[attr-defined]
    keys.merchant_public_key().verify(
        base64.b64decode(p["paySign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )
