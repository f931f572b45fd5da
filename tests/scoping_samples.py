"""Sample objects for the cross-tenant walk (``tests/integration/test_tenant_scoping.py``).

The walk calls every ``/v1`` route that takes an id in its path with a SECOND merchant's
key, against an object of the FIRST merchant, and expects 404 and no change. It needs, for
each path parameter, one object of merchant A. A parameter is identified by the path
segment before it: ``/v1/stores/{store_id}`` and ``/v1/stores/{id}/close`` both use the
sample registered for ``"stores"``.

To cover a new part's routes, add one factory here::

    @sample("cards")
    async def a_card(owner: Owner) -> str:
        response = await owner.client.post("/v1/cards", json={...})
        return response.json()["id"]

A route whose request body cannot be generated from its schema (``example_body`` fills
required fields from ``examples``, enums and types) can register one in ``BODIES``.
The walk fails, naming the collection, when a route has no sample.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.cards_support import active_product, cny, funded_card
from tests.factories import TEST_PASSWORD, MerchantWithKey, make_merchant_with_key, unique_email
from tongka.clock import FixedClock
from tongka.db import Database


@dataclass(frozen=True)
class Owner:
    """Merchant A, whose objects the walk tries to reach with merchant B's key."""

    merchant: MerchantWithKey  # active, with a store (``merchant.store_id``) and a full key
    client: httpx.AsyncClient  # authenticated with merchant A's full key
    platform: httpx.AsyncClient  # authenticated with a platform admin key
    database: Database


SampleFactory = Callable[[Owner], Awaitable[str]]
SAMPLES: dict[str, SampleFactory] = {}
# (method, path template) -> request body, for bodies ``example_body`` cannot make.
BODIES: dict[tuple[str, str], dict[str, Any]] = {}


def sample(collection: str) -> Callable[[SampleFactory], SampleFactory]:
    def register(factory: SampleFactory) -> SampleFactory:
        SAMPLES[collection] = factory
        return factory

    return register


async def created_id(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    object_id: str = response.json()["id"]
    return object_id


# --- identity -----------------------------------------------------------------------------


@sample("merchants")
async def the_merchant(owner: Owner) -> str:
    return owner.merchant.merchant_id


@sample("stores")
async def a_store(owner: Owner) -> str:
    assert owner.merchant.store_id is not None
    return owner.merchant.store_id


@sample("terminals")
async def a_terminal(owner: Owner) -> str:
    body = {"store_id": owner.merchant.store_id, "device_id": "SCOPE-1"}
    return await created_id(await owner.client.post("/v1/terminals", json=body))


@sample("users")
async def a_user(owner: Owner) -> str:
    body = {
        "email": unique_email("scoped"),
        "display_name": "A's cashier",
        "role": "cashier",
        "password": TEST_PASSWORD,
    }
    return await created_id(await owner.client.post("/v1/users", json=body))


@sample("api_keys")
async def an_api_key(owner: Owner) -> str:
    return await created_id(await owner.client.post("/v1/api_keys", json={"name": "scoped"}))


@sample("consumers")
async def a_consumer(owner: Owner) -> str:
    body = {"phone": "13600136000"}
    return await created_id(await owner.platform.post("/v1/consumers", json=body))


# --- events and webhooks ------------------------------------------------------------------


@sample("webhook_endpoints")
async def a_webhook_endpoint(owner: Owner) -> str:
    body = {"url": "https://merchant-a.example/hooks", "enabled_events": ["*"]}
    return await created_id(await owner.client.post("/v1/webhook_endpoints", json=body))


@sample("events")
async def an_event(owner: Owner) -> str:
    await a_webhook_endpoint(owner)  # records a webhook_endpoint.created event of merchant A
    response = await owner.client.get("/v1/events", params={"limit": 1})
    event_id: str = response.json()["data"][0]["id"]
    return event_id


# --- request bodies from the OpenAPI schema -----------------------------------------------


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def example_value(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value that satisfies ``schema`` (required fields only), preferring its examples."""
    schema = _resolve(document, schema)
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [option for option in schema.get(key, []) if option.get("type") != "null"]
        if options:
            return example_value(document, options[0])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: example_value(document, schema["properties"][name])
            for name in schema.get("required", [])
        }
    if kind == "string":
        return "x" * max(int(schema.get("minLength", 1)), 1)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    return None


def example_body(document: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    if (method, path) in BODIES:
        return BODIES[(method, path)]
    operation = document["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    value = example_value(document, content["schema"])
    return value if isinstance(value, dict) else None


# --- cards --------------------------------------------------------------------------------

_card_bins = iter(range(10_000, 99_999))


@sample("card_products")
async def a_card_product(owner: Owner) -> str:
    body = {
        "name": "Scoped gift card",
        "bin_prefix": f"627{next(_card_bins)}",
        "number_length": 16,
        "max_balance": cny(100_000),
        "is_named": False,
        "face_values": [cny(10_000)],
        "validity_months": 36,
    }
    product_id = await created_id(await owner.client.post("/v1/card_products", json=body))
    submitted = await owner.client.post(f"/v1/card_products/{product_id}/submit", json={})
    assert submitted.status_code == 200, submitted.text
    approved = await owner.platform.post(f"/v1/card_products/{product_id}/approve", json={})
    assert approved.status_code == 200, approved.text
    return product_id


@sample("cards")
async def a_card(owner: Owner) -> str:
    body = {"product_id": await a_card_product(owner), "face_value": cny(10_000)}
    return await created_id(await owner.client.post("/v1/cards", json=body))


@sample("card_batches")
async def a_card_batch(owner: Owner) -> str:
    body = {
        "product_id": await a_card_product(owner),
        "count": 2,
        "face_value": cny(10_000),
        "export_password": "a long export password",
    }
    response = await owner.client.post("/v1/card_batches", json=body)
    assert response.status_code == 202, response.text
    batch_id: str = response.json()["id"]
    return batch_id


BODIES[("POST", "/v1/cards/{card_id}/merge")] = {
    "source_card_ids": ["card_00000000000000000000000000"]
}


@sample("acceptance_agreements")
async def an_acceptance_agreement(owner: Owner) -> str:
    """Merchant A proposes to a third merchant: the intruder is no party to it."""
    acceptor = await make_merchant_with_key(owner.database, legal_name="受理商户丙")
    body = {"acceptor_merchant_id": acceptor.merchant_id}
    return await created_id(await owner.client.post("/v1/acceptance_agreements", json=body))


BODIES[("POST", "/v1/cards/{card_id}/holder_bindings")] = {"phone": "13800138000"}


# --- redemption ---------------------------------------------------------------------------

# the product's redemption limits (``/v1/products/{id}/redemption_limits``) are a card
# product's; the platform's bounds are per currency (a platform-only route: 403 for both)
SAMPLES["products"] = a_card_product


@sample("redemption_limit_bounds")
async def a_currency(owner: Owner) -> str:
    return "CNY"


async def _redeemable_card(owner: Owner) -> dict[str, Any]:
    """A card of merchant A with money on it, as the cards' number and secret."""
    now = FixedClock().now()
    async with owner.database.transaction() as session:
        product = await active_product(session, now, merchant_id=owner.merchant.merchant_id)
        issued = await funded_card(session, now, product, amount=10_000)
    return {"number": issued.number, "secret": issued.secret}


async def _spend(owner: Owner, path: str) -> dict[str, Any]:
    body = {
        "amount": cny(1_000),
        "store_id": owner.merchant.store_id,
        "cards": [await _redeemable_card(owner)],
    }
    response = await owner.client.post(
        path, json=body, headers={"Idempotency-Key": f"scope-{path}"}
    )
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


@sample("redemptions")
async def a_redemption(owner: Owner) -> str:
    """A purchase's answer lists its redemptions (one per card): the sample is the first."""
    purchase = await _spend(owner, "/v1/redemptions")
    redemption_id: str = purchase["allocation"][0]["id"]
    return redemption_id


@sample("authorizations")
async def an_authorization(owner: Owner) -> str:
    authorization_id: str = (await _spend(owner, "/v1/authorizations"))["id"]
    return authorization_id


# --- settlement ---------------------------------------------------------------------------


@sample("contracts")
async def a_contract(owner: Owner) -> str:
    merchant = (await owner.platform.get(f"/v1/merchants/{owner.merchant.merchant_id}")).json()
    body = {
        "merchant_id": owner.merchant.merchant_id,
        "effective_date": "2099-01-01",
        "fees": {"redemption_own": {"rate": "0.003"}},
        "bank_account": {
            "bank_name": "中国工商银行",
            "account_name": merchant["legal_name"],
            "account_number": "6222020200112233445",
        },
    }
    return await created_id(await owner.platform.post("/v1/contracts", json=body))


_batch_days = itertools.count()


async def _settlement_rows(owner: Owner) -> tuple[str, str]:
    """A batch of merchant A and its payout, written as a run would."""
    from datetime import UTC, date, datetime, timedelta

    from tongka.ids import new_id
    from tongka.settlement.models import Payout, SettlementBatch

    now = datetime(2026, 10, 9, tzinfo=UTC)
    batch_id, payout_id = new_id("stb"), new_id("pyo")
    day = date(2026, 1, 1) + timedelta(days=next(_batch_days))
    async with owner.database.transaction() as session:
        session.add(
            SettlementBatch(
                id=batch_id,
                merchant_id=owner.merchant.merchant_id,
                currency="CNY",
                business_date=day,
                contract_id=None,
                cutoff_at=now,
                movements=100,
                carried_in=0,
                reserve_held=0,
                reserve_released=0,
                net=100,
                line_count=0,
                payout_date=date(2026, 10, 12),
                payout_status="paying",
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Payout(
                id=payout_id,
                batch_id=batch_id,
                attempt=1,
                idempotency_key=f"{batch_id}-1",
                merchant_id=owner.merchant.merchant_id,
                currency="CNY",
                amount=100,
                status="unknown",
                account_last4="3445",
                created_at=now,
                updated_at=now,
            )
        )
    return batch_id, payout_id


@sample("settlement_batches")
async def a_settlement_batch(owner: Owner) -> str:
    return (await _settlement_rows(owner))[0]


@sample("payouts")
async def a_payout(owner: Owner) -> str:
    return (await _settlement_rows(owner))[1]


# --- payments -----------------------------------------------------------------------------


@sample("payments")
async def a_payment(owner: Owner) -> str:
    """A cash payment at merchant A's till (no channel to call; its listener does nothing)."""
    from tests.paycore_support import cash_payment

    return await cash_payment(owner.database, owner.merchant.merchant_id)


# --- promotions (充值赠送) ------------------------------------------------------------------


PROMOTION_BODY: dict[str, Any] = {
    "name": "充值500送50",
    "tiers": [{"min_load": cny(50_000), "bonus": cny(5_000)}],
    "budget": cny(20_000),
    "ends_at": "2099-01-01T00:00:00+08:00",
}
BODIES[("POST", "/v1/promotions")] = PROMOTION_BODY


@sample("promotions")
async def a_promotion(owner: Owner) -> str:
    """Merchant A's promotion, funded from money the platform owes it."""
    from tests.promotions_support import fund_merchant

    async with owner.database.transaction() as session:
        await fund_merchant(session, FixedClock().now(), 10**6, owner.merchant.merchant_id)
    return await created_id(await owner.client.post("/v1/promotions", json=PROMOTION_BODY))


# --- reconciliation -----------------------------------------------------------------------
_reconciliation_days = itertools.count()


async def _reconciliation_rows(owner: Owner) -> tuple[str, str, str]:
    from datetime import date, timedelta

    from tests.reconciliation_support import seeded_run

    day = date(2026, 6, 1) + timedelta(days=2 * next(_reconciliation_days))
    return await seeded_run(owner.database, day)


@sample("reconciliations")
async def a_reconciliation(owner: Owner) -> str:
    return (await _reconciliation_rows(owner))[0]


@sample("reconciliation_exceptions")
async def a_reconciliation_exception(owner: Owner) -> str:
    return (await _reconciliation_rows(owner))[1]


@sample("reconciliation_resolutions")
async def a_reconciliation_resolution(owner: Owner) -> str:
    return (await _reconciliation_rows(owner))[2]


# --- orders (sales) -------------------------------------------------------------------------


@sample("orders")
async def an_order(owner: Owner) -> str:
    """A cash till sale of one of merchant A's issued cards (fulfilled at once)."""
    from tests.cards_support import KEYS, grant_quota
    from tests.conftest import TEST_SECRET_KEY
    from tests.paycore_support import real_now
    from tongka.cards import service
    from tongka.config import Settings
    from tongka.payments import registry
    from tongka.payments.adapters.cash import Cash
    from tongka.payments.channel import ChannelName, PaymentMethod
    from tongka.sales.order_states import OrderKind
    from tongka.sales.orders import OrderRequest, create_order

    merchant_id = owner.merchant.merchant_id
    now = real_now()
    settings = Settings(environment="test", secret_key=TEST_SECRET_KEY)
    with registry.override_channels({ChannelName.CASH: Cash()}):
        async with owner.database.transaction() as session:
            await grant_quota(session, now, 10**9, merchant_id)
            product = await active_product(session, now, merchant_id=merchant_id)
            card = await service.issue_card(
                session,
                product.id,
                merchant_id=merchant_id,
                face_value=10_000,
                keys=KEYS,
                actor="test",
                now=now,
            )
            created = await create_order(
                session,
                OrderRequest(
                    kind=OrderKind.TILL_SALE,
                    method=PaymentMethod.CASH,
                    channel="cash",
                    actor="test",
                    buyer_key="till:sample",
                    merchant_id=merchant_id,
                    card_id=card.card.id,
                ),
                now=now,
                settings=settings,
            )
    return created.order.id


# --- card returns (sales, 退卡) ------------------------------------------------------------


@sample("card_returns")
async def a_card_return(owner: Owner) -> str:
    """Merchant A's till pays cash for one of its named cards (¥50 paid value)."""
    from tests.cards_support import ensure_consumer
    from tests.paycore_support import real_now
    from tongka.identity.models import KycLevel

    now = real_now()
    async with owner.database.transaction() as session:
        holder = await ensure_consumer(session, "con_return_sample", now, KycLevel.ID_CARD)
        product = await active_product(
            session,
            now,
            merchant_id=owner.merchant.merchant_id,
            name="Member card",
            is_named=True,
            max_balance=500_000,
            validity_months=None,
        )
        issued = await funded_card(session, now, product, amount=5_000, holder_id=holder)
    response = await owner.client.post(
        "/v1/card_returns", json={"card_id": issued.card.id, "method": "cash"}
    )
    return await created_id(response)
