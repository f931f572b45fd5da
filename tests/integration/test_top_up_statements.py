# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""A paid top-up's work in SQL statements (bench/profile_sales.py measures the same): the
order read once per transaction, the merchant's webhook endpoints once per transaction,
nothing re-read that the transaction holds. A regression here costs every paid top-up a
round trip (bench/RESULTS.md, "Sales over HTTP")."""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from tests.cards_support import balance_of, funded_card
from tests.orders_support import (  # noqa: F401 - fixtures
    HOLDER,
    Shop,
    deliver_all,
    load_order,
    order_of,
    paid_channels,
    payment_settings,
    real_now,
    sandbox_settings,
    shop,
)
from tests.payments_support import PaymentSandbox
from tongka.cards.products import get_product
from tongka.config import Settings
from tongka.db import Database
from tongka.sales.order_states import OrderKind, OrderStatus


@contextmanager
def statements(database: Database) -> Iterator[collections.Counter[str]]:
    """Statements by kind: ``SELECT orders``, ``INSERT events``, ``UPDATE orders``..."""
    counts: collections.Counter[str] = collections.Counter()

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        words = statement.split()
        verb = words[0].upper()
        if verb == "SELECT":
            found = re.search(r"\bFROM\s+(\w+)", statement)
            counts[f"SELECT {found.group(1) if found else '?'}"] += 1
        elif verb in ("INSERT", "UPDATE"):
            counts[f"{verb} {words[2] if verb == 'INSERT' else words[1]}"] += 1
        counts["all"] += 1

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_paid_top_up_reads_nothing_twice(
    database: Database, payment_settings: Settings, paid_channels: PaymentSandbox, shop: Shop
) -> None:
    # given an active card of the shop
    async with database.transaction() as session:
        product = await get_product(session, shop.product_id)
        card_id = (
            await funded_card(session, real_now(), product, amount=10_000, holder_id=HOLDER)
        ).card.id
    # when it is topped up by WeChat Native and the notification arrives
    with statements(database) as ordered:
        created = await order_of(
            database,
            payment_settings,
            shop,
            kind=OrderKind.TOP_UP,
            card_id=card_id,
            amount_minor=500,
            face_value_minor=None,
            product_id=None,
        )
    await paid_channels.pay("wechat", created.payment.payment.id)
    with statements(database) as notified:
        await deliver_all(database, payment_settings, paid_channels)
    # then the card is credited once
    assert (await load_order(database, created.order.id)).status == OrderStatus.FULFILLED
    assert (await balance_of(database, card_id)).paid == 10_500
    # and each transaction read its order, its payment and the endpoints at most once
    assert ordered["SELECT orders"] == 0  # the order is made, never read back
    assert ordered["SELECT payments"] == 0
    assert ordered["SELECT webhook_endpoints"] == 1
    assert notified["SELECT orders"] == 1  # locked once, then passed along
    assert notified["SELECT payments"] == 1
    assert notified["SELECT card_products"] == 1
    assert notified["SELECT webhook_endpoints"] == 1
    assert notified["SELECT receipts"] == 1  # is there one already? (then RETURNING)
    # the totals when this test was written (the first top-up of the channel opens its
    # receivable account; SQLite posts in more statements): a bound, not a goal
    order_bound, notify_bound = {"postgresql": (21, 31), "sqlite": (22, 36)}[database.dialect]
    assert ordered["all"] <= order_bound, ordered
    assert notified["all"] <= notify_bound, notified
