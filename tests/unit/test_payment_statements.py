# ruff: noqa: E501 - statement lines are kept whole, as the channels write them
"""Statement parsers stream (any chunking gives the same lines) and read each channel's
format: WeChat's backtick fields and summary, Alipay's GBK with comments, UnionPay's
delimited file, the bank's CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongka.payments.adapters.alipay import parse_trade_bill
from tongka.payments.adapters.bank_transfer import (
    bank_reference,
    parse_bank_csv,
    payment_id_from_reference,
)
from tongka.payments.adapters.unionpay import parse_settle_file
from tongka.payments.adapters.wechat import parse_tradebill
from tongka.payments.channel import StatementLineKind

WECHAT = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单总金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注\r\n"
    "`2026-12-02 10:00:00,`wx1,`1900000109,`0,`,`4200001,`pay_1,`o1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`500.00,`0.00,"
    "`,`,`0.00,`0.00,`,`,`卡,`,`3.00,`0.60%,`500.00,`0.00,`\r\n"
    "`2026-12-02 11:00:00,`wx1,`1900000109,`0,`,`4200001,`pay_1,`o1,`NATIVE,`REFUND,`OTHERS,`CNY,`500.00,`0.00,"
    "`5030001,`rf_1,`100.00,`0.00,`ORIGINAL,`SUCCESS,`卡,`,`-0.60,`0.60%,`500.00,`100.00,`\r\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
    "`2,`500.00,`100.00,`0.00,`2.40,`500.00,`100.00\r\n"
).encode()

ALIPAY = (
    "#支付宝业务明细查询\r\n#账号：[2021000000000001]\r\n#-----业务明细列表-----\r\n"
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
    "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,"
    "卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r\n"
    "2026120222001,pay_2,交易,卡,2026-12-02 09:59:00,2026-12-02 10:00:00,,,,,159****5620,99.99,99.99,0.00,0.00,0.00,"
    "0.00,0.00,,0.00,0.00,,-0.60,0.00,\r\n"
    "#-----业务明细列表结束-----\r\n#交易合计：1笔\r\n"
).encode("gbk")

UNIONPAY = (
    b"H|777290058110048|20261202\nD|01|pay_3|q1|20261202100000|12.34|0.06|156|\nT|1|12.34|0.06\n"
)


def chunked(content: bytes, size: int) -> list[bytes]:
    return [content[i : i + size] for i in range(0, len(content), size)]


@given(st.integers(min_value=1, max_value=64))
def test_any_chunking_gives_the_same_lines(size: int) -> None:
    for parser, content in [
        (parse_tradebill, WECHAT),
        (parse_trade_bill, ALIPAY),
        (parse_settle_file, UNIONPAY),
    ]:
        assert list(parser(chunked(content, size))) == list(parser(content))


def test_wechat_tradebill() -> None:
    lines = list(parse_tradebill(WECHAT))
    assert [(x.kind, x.payment_id, x.amount_minor, x.fee_minor, x.refund_id) for x in lines] == [
        (StatementLineKind.PAYMENT, "pay_1", 50_000, 300, None),
        (StatementLineKind.REFUND, "pay_1", 10_000, -60, "rf_1"),
    ]
    assert lines[0].occurred_at == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert lines[0].trade_date == date(2026, 12, 2)


def test_alipay_bill_in_gbk() -> None:
    (line,) = parse_trade_bill(ALIPAY)
    assert (line.payment_id, line.amount_minor, line.fee_minor, line.channel_transaction_id) == (
        "pay_2",
        9_999,
        60,
        "2026120222001",
    )


def test_unionpay_file() -> None:
    (line,) = parse_settle_file(UNIONPAY)
    assert (line.payment_id, line.amount_minor, line.fee_minor) == ("pay_3", 1_234, 6)


def test_bank_csv_skips_other_money() -> None:
    reference = bank_reference("pay_4")
    content = (
        "交易日期,交易时间,流水号,借贷,金额,手续费,对方户名,对方账号,附言\r\n"
        f"2026-12-02,10:00:00,BK1,贷,10000.00,0.00,某公司,3105,{reference}\r\n"
        "2026-12-02,10:05:00,BK2,贷,1.00,0.00,某人,6222,房租\r\n"
        f"2026-12-02,11:00:00,BK3,借,10.00,0.00,某公司,3105,REFUND rf_9 {reference}\r\n"
    ).encode()
    lines = list(parse_bank_csv(chunked(content, 5)))
    assert [(x.kind, x.payment_id, x.amount_minor, x.refund_id) for x in lines] == [
        (StatementLineKind.PAYMENT, "pay_4", 1_000_000, None),
        (StatementLineKind.REFUND, "pay_4", 1_000, "rf_9"),
    ]


@pytest.mark.parametrize("payment_id", ["pay_4", "01HXYZABC", "p"])
def test_bank_reference_checks_typos(payment_id: str) -> None:
    reference = bank_reference(payment_id)
    assert payment_id_from_reference(reference) == payment_id
    typo = reference[:-1] + str((int(reference[-1]) + 1) % 10)
    assert payment_id_from_reference(typo) is None
