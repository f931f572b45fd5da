# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""An enterprise batch order refunded through ``POST /v1/orders/{id}/refunds``, card by
card: named cards (or every card still holding paid value) refund their paid, unspent
value through the bank transfer they were paid with and are closed; a replay answers the
first refund; an amount, a stranger's card, a card refunded already are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.cards_support import active_product, balance_of, cny, grant_quota
from tests.factories import api_client, make_merchant_with_key
from tests.paycore_support import payment_settings, real_now  # noqa: F401 - fixtures
from tests.payments_support import PaymentSandbox, open_payment_sandbox, sandbox_settings  # noqa: F401
from tongka.api.app import create_app
from tongka.cards.jobs import issue_batches
from tongka.cards.models import Card
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments import registry
from tongka.payments.models import Payment
from tongka.sales.batch_orders import activate_paid_batches


@pytest.fixture
def app(payment_settings: Settings, database: Database) -> FastAPI:
    return create_app(payment_settings, database=database, clock=FixedClock(real_now()))


@pytest.fixture
async def sandbox(app: FastAPI, payment_settings: Settings) -> AsyncIterator[PaymentSandbox]:
    async with open_payment_sandbox(payment_settings, notify_app=app) as gateway:
        with registry.override_channels(gateway.channels):
            yield gateway


async def paid_batch(
    app: FastAPI, database: Database, settings: Settings, sandbox: PaymentSandbox
) -> tuple[str, dict[str, object], list[str]]:
    """A merchant's key, its paid, issued and activated batch order of 3 ¥100 cards, and
    the cards' ids."""
    merchant = await make_merchant_with_key(database)
    async with database.transaction() as session:
        await grant_quota(session, real_now(), 10**10, merchant.merchant_id)
        product = await active_product(session, real_now(), merchant_id=merchant.merchant_id)
    async with api_client(app, merchant.api_key) as client:
        created = await client.post(
            "/v1/orders",
            json={
                "kind": "batch",
                "method": "bank_transfer",
                "channel": "bank_transfer",
                "product_id": product.id,
                "face_value": cny(10_000),
                "count": 3,
                "buyer": {"kind": "unit", "name": "上海某某科技有限公司"},
                "export_password": "correct horse battery staple",
            },
        )
        assert created.status_code == 201, created.text
        order = created.json()
    await sandbox.pay("bank_transfer", order["payment"]["id"])
    clock = FixedClock(real_now())
    await issue_batches(database, clock, settings)
    assert await activate_paid_batches(database, clock, settings) == 1
    async with database.transaction() as session:
        cards = (
            await session.scalars(
                select(Card.id).where(Card.batch_id == order["batch_id"]).order_by(Card.id)
            )
        ).all()
    return merchant.api_key, order, list(cards)


async def test_a_batch_order_refunds_card_by_card_and_closes_them(
    app: FastAPI, database: Database, payment_settings: Settings, sandbox: PaymentSandbox
) -> None:
    key, order, cards = await paid_batch(app, database, payment_settings, sandbox)
    refunds = f"/v1/orders/{order['id']}/refunds"
    async with api_client(app, key) as merchant:
        assert (await merchant.get(f"/v1/orders/{order['id']}")).json()["status"] == "fulfilled"
        # an amount is not how a batch refunds
        by_amount = await merchant.post(refunds, json={"amount": cny(10_000)})
        assert by_amount.status_code == 400
        assert by_amount.json()["error"]["code"] == "order_refund_cards_invalid"
        assert "not an amount" in by_amount.json()["error"]["message"]
        # a card not of the batch is refused, naming it
        stranger = await merchant.post(refunds, json={"card_ids": [cards[0], "card_elsewhere"]})
        assert stranger.status_code == 400
        assert stranger.json()["error"]["param"] == "card_ids"
        assert "1 of the cards named" in stranger.json()["error"]["message"]
        # when the enterprise returns one card
        first = await merchant.post(
            refunds,
            json={"card_ids": [cards[0]], "reason": "员工离职"},
            headers={"Idempotency-Key": "return-1"},
        )
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["amount"] == cny(10_000)
        assert body["cards"] == [{"card_id": cards[0], "amount": cny(10_000)}]
        assert body["order"]["status"] == "partly_refunded"
        assert body["order"]["refunded"] == cny(10_000)
        # then a replay answers the first refund
        replay = await merchant.post(
            refunds,
            json={"card_ids": [cards[0]], "reason": "员工离职"},
            headers={"Idempotency-Key": "return-1"},
        )
        assert replay.status_code == 201
        assert replay.json()["id"] == body["id"]
        assert replay.json()["order"]["refunded"] == cny(10_000)
        # and the card is closed and empty: it cannot be refunded (or spent) again
        assert (await merchant.get(f"/v1/cards/{cards[0]}")).json()["status"] == "closed"
        assert (await balance_of(database, cards[0])).total == 0
        again = await merchant.post(refunds, json={"card_ids": [cards[0]]})
        assert again.status_code in (409, 422), again.text
        assert again.json()["error"]["code"] == "card_movement_refused"
        # the rest: no cards named refunds every card still holding paid value
        rest = await merchant.post(refunds, json={}, headers={"Idempotency-Key": "return-2"})
        assert rest.status_code == 201, rest.text
        assert [row["card_id"] for row in rest.json()["cards"]] == cards[1:]
        assert rest.json()["amount"] == cny(20_000)
        assert rest.json()["order"]["status"] == "refunded"
        nothing = await merchant.post(refunds, json={})
        assert nothing.status_code == 409
        assert nothing.json()["error"]["code"] == "order_not_refundable"
    # the bank paid it all back to the payer's account, in two refunds
    async with database.transaction() as session:
        payment = await session.get(Payment, order["payment"]["id"])
        statuses = (
            await session.scalars(select(Card.status).where(Card.batch_id == order["batch_id"]))
        ).all()
    assert payment is not None
    assert (payment.status, payment.refunded_minor) == ("refunded", 30_000)
    assert list(statuses) == ["closed"] * 3
