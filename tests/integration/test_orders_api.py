# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""``/v1/orders`` through HTTP, the sandbox notifying the app itself: a holder buys and pays,
the order shows its history; a replayed create answers the first order; cancel and refund;
scoping; the purchase rules in ``/v1/card_regulation``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from tests.cards_support import active_product, cny, grant_quota
from tests.factories import (
    api_client,
    make_consumer_with_token,
    make_merchant_with_key,
    make_platform_key,
)
from tests.paycore_support import payment_settings, real_now  # noqa: F401 - fixtures
from tests.payments_support import PaymentSandbox, open_payment_sandbox, sandbox_settings  # noqa: F401
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments import registry


@pytest.fixture
def app(payment_settings: Settings, database: Database) -> FastAPI:
    return create_app(payment_settings, database=database, clock=FixedClock(real_now()))


@pytest.fixture
async def sandbox(app: FastAPI, payment_settings: Settings) -> AsyncIterator[PaymentSandbox]:
    async with open_payment_sandbox(payment_settings, notify_app=app) as gateway:
        with registry.override_channels(gateway.channels):
            yield gateway


@dataclass(frozen=True)
class World:
    merchant_key: str
    holder_token: str
    product_id: str


@pytest.fixture
async def world(database: Database) -> World:
    merchant = await make_merchant_with_key(database)
    holder = await make_consumer_with_token(database, now=real_now())
    async with database.transaction() as session:
        await grant_quota(session, real_now(), 10**10, merchant.merchant_id)
        product = await active_product(session, real_now(), merchant_id=merchant.merchant_id)
    return World(merchant.api_key, holder.token, product.id)


def _purchase(world: World, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "purchase",
        "method": "native_qr",
        "channel": "wechat",
        "product_id": world.product_id,
        "face_value": cny(10_000),
    }
    body.update(overrides)
    return body


async def test_a_holder_buys_pays_and_sees_the_history(
    app: FastAPI, sandbox: PaymentSandbox, world: World
) -> None:
    async with api_client(app, world.holder_token) as holder:
        created = await holder.post(
            "/v1/orders", json=_purchase(world), headers={"Idempotency-Key": "buy-1"}
        )
        assert created.status_code == 201, created.text
        order = created.json()
        assert order["status"] == "awaiting_payment"
        assert order["payment"]["instructions"]["code_url"]
        # a replay answers the first order, and makes no second one
        replay = await holder.post(
            "/v1/orders", json=_purchase(world), headers={"Idempotency-Key": "buy-1"}
        )
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.json()["id"] == order["id"]
        assert len((await holder.get("/v1/orders")).json()["data"]) == 1
        # the payer pays; WeChat notifies the app (twice)
        paid = await sandbox.pay("wechat", order["payment"]["id"], faults=["duplicate"])
        assert paid["status"] == "SUCCEEDED"
        shown = (await holder.get(f"/v1/orders/{order['id']}")).json()
        assert shown["status"] == "fulfilled"
        assert shown["funding_type"] == "balance"
        assert set(shown["payer"]) == {"account_name", "account_number"}
        assert [step["event"] for step in shown["history"]] == [
            "order.created",
            "order.awaiting_payment",
            "order.paid",
            "order.fulfilled",
        ]
        card = (await holder.get(f"/v1/cards/{shown['card_id']}")).json()
        assert card["status"] == "active"
    # the issuer sees the order; its manager refunds part of it
    async with api_client(app, world.merchant_key) as merchant:
        listed = (await merchant.get("/v1/orders", params={"status": "fulfilled"})).json()
        assert [o["id"] for o in listed["data"]] == [order["id"]]
        refunded = await merchant.post(
            f"/v1/orders/{order['id']}/refunds", json={"amount": cny(4_000), "reason": "退部分"}
        )
        assert refunded.status_code == 201, refunded.text
        assert refunded.json()["order"]["status"] == "partly_refunded"
        too_much = await merchant.post(
            f"/v1/orders/{order['id']}/refunds", json={"amount": cny(6_001)}
        )
        assert too_much.status_code == 422
        assert too_much.json()["error"]["code"] == "order_refund_exceeds_unspent"


async def test_cancel_an_unpaid_order_and_scoping(
    app: FastAPI, database: Database, sandbox: PaymentSandbox, world: World
) -> None:
    other = await make_consumer_with_token(database, now=real_now())
    async with api_client(app, world.holder_token) as holder:
        order = (await holder.post("/v1/orders", json=_purchase(world))).json()
        async with api_client(app, other.token) as stranger:
            assert (await stranger.get(f"/v1/orders/{order['id']}")).status_code == 404
            assert (
                await stranger.post(f"/v1/orders/{order['id']}/cancel", json={})
            ).status_code == 404
        cancelled = await holder.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "不要了"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        again = await holder.post(f"/v1/orders/{order['id']}/cancel", json={})
        assert again.json()["error"]["code"] == "order_not_cancellable"


async def test_a_rule_refusal_names_its_rule_and_threshold(
    app: FastAPI, database: Database, sandbox: PaymentSandbox, world: World
) -> None:
    platform_key = await make_platform_key(database)
    async with api_client(app, platform_key) as platform:
        current = (await platform.get("/v1/card_regulation")).json()
        assert current["purchase_rules"]["top_up_bank_transfer_minor"] == 500_000
        rules = current["purchase_rules"] | {"person_bank_transfer_minor": 5_000}
        body = {k: v for k, v in current.items() if k != "object"} | {"purchase_rules": rules}
        changed = await platform.post("/v1/card_regulation", json=body)
        assert changed.status_code == 200, changed.text
        assert changed.json()["purchase_rules"]["person_bank_transfer_minor"] == 5_000
    async with api_client(app, world.holder_token) as holder:
        refused = await holder.post("/v1/orders", json=_purchase(world))
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "purchase_bank_transfer_required"
    assert "¥50.00" in error["message"]
    assert error["param"] == "method"


async def test_a_holder_cannot_sell_at_a_till(
    app: FastAPI, sandbox: PaymentSandbox, world: World
) -> None:
    async with api_client(app, world.holder_token) as holder:
        refused = await holder.post(
            "/v1/orders", json={"kind": "till_sale", "method": "cash", "card_id": "card_x"}
        )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "order_invalid"


async def test_the_third_batch_just_under_the_threshold_is_refused_as_splitting(
    app: FastAPI, sandbox: PaymentSandbox, world: World
) -> None:
    def batch(buyer: dict[str, object]) -> dict[str, object]:
        return {
            "kind": "batch",
            "method": "native_qr",
            "channel": "wechat",
            "product_id": world.product_id,
            "face_value": cny(10_000),
            "count": 48,  # ¥4,800: just under a unit's ¥5,000 bank-transfer threshold
            "buyer": buyer,
            "export_password": "correct horse battery staple",
        }

    unit = {"kind": "unit", "reference": "acme-staff"}
    async with api_client(app, world.merchant_key) as merchant:
        for _ in range(2):
            placed = await merchant.post("/v1/orders", json=batch(unit))
            assert placed.status_code == 201, placed.text
        third = await merchant.post("/v1/orders", json=batch(unit))
        assert third.status_code == 422
        assert third.json()["error"]["code"] == "purchase_splitting_refused"
        assert "¥5,000.00" in third.json()["error"]["message"]
        # the buyer who gives its name may go on
        named = await merchant.post(
            "/v1/orders", json=batch({"kind": "unit", "name": "某某科技有限公司"})
        )
        assert named.status_code == 201, named.text
        assert named.json()["buyer"]["is_real_name_given"] is True
