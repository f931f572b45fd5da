# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Bank transfers matched from the reserve account's statement CSV: each credit quoting an
order's reference pays that order once, however often the statement is imported (the path
of 来账登记); a mistyped reference, another amount, or a credit with no reference pays
nothing and is listed; debits and channel settlements are only counted. The CLI
(``tongka payments match-transfers``) prints the unmatched lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.orders_support import (  # noqa: F401 - fixtures
    Shop,
    load_order,
    order_of,
    paid_channels,
    payment_settings,
    real_now,
    sandbox_settings,
    shop,
)
from tests.payments_support import PaymentSandbox
from tongka.cli import app
from tongka.config import Settings, get_settings
from tongka.db import Database, migrate
from tongka.payments.adapters.bank_transfer import STATEMENT_COLUMNS, bank_reference
from tongka.payments.statement_transfers import match_statement_transfers
from tongka.sales.order_states import OrderKind, OrderStatus
from tongka.sales.orders import order_history
from tongka.sales.purchase_rules import BuyerKind

PAYER = ("上海某某科技有限公司", "31050161393600000123")


def statement(*lines: tuple[str, str, str, str]) -> bytes:
    """A reserve bank statement: (serial, 借/贷, 金额, 附言) per line."""
    rows = [",".join(STATEMENT_COLUMNS)]
    for serial, side, amount, note in lines:
        rows.append(
            ",".join(["2026-12-03", "10:15:00", serial, side, amount, "0.00", *PAYER, note])
        )
    return ("\n".join(rows) + "\n").encode("utf-8-sig")


async def _batch_order(database: Database, settings: Settings, shop: Shop) -> tuple[str, str]:
    created = await order_of(
        database,
        settings,
        shop,
        kind=OrderKind.BATCH,
        card_count=3,
        method="bank_transfer",
        channel="bank_transfer",
        buyer_kind=BuyerKind.UNIT,
        buyer_key="unit:acme",
        buyer_name=PAYER[0],
        holder_id=None,
        export_password="correct horse battery staple",
        merchant_id=shop.merchant_id,
    )
    return created.order.id, bank_reference(created.payment.payment.id)


async def test_the_statement_pays_each_quoted_order_once_and_lists_the_rest(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    # given two enterprise batches of three ¥100 cards awaiting their transfers
    paid_id, paid_reference = await _batch_order(database, payment_settings, shop)
    short_id, short_reference = await _batch_order(database, payment_settings, shop)
    mistyped = paid_reference[:-2] + ("00" if not paid_reference.endswith("00") else "01")
    content = statement(
        ("B001", "贷", "300.00", f"{paid_reference} 购卡款"),
        ("B002", "贷", "299.99", short_reference),  # another amount
        ("B003", "贷", "300.00", mistyped),
        ("B004", "贷", "88.00", "还款"),  # no reference
        ("B005", "借", "50.00", "手续费"),
        ("B006", "贷", "1000.00", "结算 wechat 2026-12-02"),
        ("B007", "贷", "300.00", paid_reference),  # the payer sent it twice: paid once
    )

    # when the statement is imported, twice
    first = await match_statement_transfers(
        database, content, now=real_now(), settings=payment_settings
    )
    again = await match_statement_transfers(
        database, content, now=real_now(), settings=payment_settings
    )

    # then
    assert [line.payment_id for line in first.paid] == [paid_reference.rsplit("-", 1)[0]]
    assert [(line.line, line.is_new) for line in first.matched] == [(2, True), (8, False)]
    assert [(line.serial, line.reason.split(":")[0]) for line in first.unmatched] == [
        ("B002", "not_matched"),
        ("B003", "no_reference"),  # its check digits fail: it names no payment
        ("B004", "no_reference"),
    ]
    assert (first.credits, first.skipped) == (5, 2)
    assert again.paid == []
    assert [line.serial for line in again.unmatched] == ["B002", "B003", "B004"]
    assert (await load_order(database, paid_id)).status == OrderStatus.PAID
    assert (await load_order(database, short_id)).status == OrderStatus.AWAITING_PAYMENT
    async with database.transaction() as session:
        events = [row.event_type for row in await order_history(session, paid_id)]
    assert events.count("order.paid") == 1


async def test_an_unreadable_statement_pays_nothing_and_says_why(
    database: Database, payment_settings: Settings
) -> None:
    result = await match_statement_transfers(
        database, "日期,金额\n2026-12-03,1.00\n".encode(), now=real_now(), settings=payment_settings
    )
    assert result.matched == []
    assert len(result.unmatched) == 1
    assert "missing" in result.unmatched[0].reason


@pytest.fixture
def cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("TONGKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TONGKA_SECRET_KEY", "cd" * 32)
    monkeypatch.delenv("TONGKA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    migrate.upgrade(get_settings().resolved_database_url)
    yield get_settings()
    get_settings.cache_clear()


def test_the_cli_lists_the_credits_that_paid_nothing(
    cli_settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "reserve-2026-12-03.csv"
    file.write_bytes(statement(("B101", "贷", "120.00", "货款"), ("B102", "借", "5.00", "手续费")))
    shown = CliRunner().invoke(app, ["payments", "match-transfers", str(file)])
    assert shown.exit_code == 0, shown.output
    assert "1 credits: 0 paid, 0 paid already, 1 unmatched; 1 other lines" in shown.output
    assert "B101" in shown.output
    assert "no_reference" in shown.output
