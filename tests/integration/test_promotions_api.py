"""/v1/promotions through HTTP: create (the budget leaves the merchant's account), replay,
list and get within the merchant's walls, end (the budget comes back), refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.api_support import Callers, api_client, bearer, make_callers
from tests.cards_support import active_product, cny
from tests.promotions_support import available, fund_merchant, payable_of
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.sales import promotions

BASE = "/v1/promotions"
BODY: dict[str, Any] = {
    "name": "充值500送50",
    "tiers": [
        {"min_load": cny(100_000), "bonus": cny(12_000)},
        {"min_load": cny(50_000), "bonus": cny(5_000)},
    ],
    "budget": cny(20_000),
    "ends_at": "2026-02-01",  # a date: midnight in the platform's zone
    "per_holder_count": 2,
}


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
async def callers(database: Database, clock: FixedClock) -> Callers:
    found = await make_callers(database)
    async with database.transaction() as session:
        await fund_merchant(session, clock.now(), 50_000, found.merchant_a.merchant_id)
    return found


async def _post(app: FastAPI, key: str, body: dict[str, Any], idempotency: str = "k1") -> Any:
    async with api_client(app) as client:
        return await client.post(
            BASE, json=body, headers={**bearer(key), "Idempotency-Key": idempotency}
        )


async def test_create_moves_the_budget_and_a_replay_does_not(
    app: FastAPI, callers: Callers, database: Database
) -> None:
    merchant_id = callers.merchant_a.merchant_id
    first = await _post(app, callers.merchant_a.api_key, BODY)
    again = await _post(app, callers.merchant_a.api_key, BODY)

    assert first.status_code == 201, first.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    body = first.json()
    assert body["status"] == "active"
    assert body["remaining"] == cny(20_000)
    assert body["tiers"] == [  # ascending by load
        {"min_load": cny(50_000), "bonus": cny(5_000)},
        {"min_load": cny(100_000), "bonus": cny(12_000)},
    ]
    assert body["ends_at"].startswith("2026-01-31T16:00:00")  # 2026-02-01 00:00 in Shanghai
    assert await available(database, payable_of(merchant_id)) == 30_000


async def test_list_get_and_end_stay_within_the_merchant(
    app: FastAPI, callers: Callers, database: Database
) -> None:
    created = (await _post(app, callers.merchant_a.api_key, BODY)).json()
    path = f"{BASE}/{created['id']}"

    async with api_client(app, **bearer(callers.merchant_b.api_key)) as other:
        assert (await other.get(path)).status_code == 404
        assert (await other.get(BASE)).json()["data"] == []
        refused = await other.post(f"{path}/end", headers={"Idempotency-Key": "e0"})
        assert refused.status_code == 404
    async with api_client(app, **bearer(callers.cashier_a)) as till:
        assert (await till.get(path)).json()["id"] == created["id"]  # staff read
        ending = await till.post(f"{path}/end", headers={"Idempotency-Key": "e1"})
        assert ending.status_code == 403
    async with api_client(app, **bearer(callers.platform)) as platform:
        listed = (await platform.get(BASE)).json()["data"]
        assert [row["id"] for row in listed] == [created["id"]]
    async with api_client(app, **bearer(callers.merchant_a.api_key)) as owner:
        ended = await owner.post(f"{path}/end", headers={"Idempotency-Key": "e2"})

    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended"
    assert ended.json()["returned"] == cny(20_000)
    assert await available(database, payable_of(callers.merchant_a.merchant_id)) == 50_000


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"budget": cny(60_000)}, 422, "promotion_funds_insufficient"),
        ({"budget": {"amount": 20_000, "currency": "USD"}}, 422, "validation_failed"),
        ({"tiers": [{"min_load": cny(5_000), "bonus": cny(6_000)}]}, 400, "invalid_promotion"),
        ({"ends_at": "2025-01-01T00:00:00Z"}, 400, "invalid_promotion"),
        ({"tiers": []}, 422, "validation_failed"),
    ],
    ids=["more than the account holds", "another currency", "bonus above load", "past", "none"],
)
async def test_a_refused_promotion_moves_nothing(
    app: FastAPI,
    callers: Callers,
    database: Database,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = await _post(app, callers.merchant_a.api_key, BODY | change)

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert await available(database, payable_of(callers.merchant_a.merchant_id)) == 50_000


async def test_only_merchant_managers_create(app: FastAPI, callers: Callers) -> None:
    assert (await _post(app, callers.cashier_a, BODY)).status_code == 403
    assert (await _post(app, callers.platform, BODY)).status_code == 403


async def test_a_card_product_says_whether_bonus_is_spent_first(
    app: FastAPI, callers: Callers
) -> None:
    product = {
        "name": "会员卡",
        "bin_prefix": "628899",
        "number_length": 16,
        "max_balance": cny(100_000),
        "is_named": False,
        "face_values": [cny(10_000)],
        "validity_months": 36,
    }
    async with api_client(app, **bearer(callers.merchant_a.api_key)) as client:
        default = await client.post(
            "/v1/card_products", json=product, headers={"Idempotency-Key": "p1"}
        )
        chosen = await client.post(
            "/v1/card_products",
            json=product | {"bin_prefix": "628898", "is_bonus_spent_first": True},
            headers={"Idempotency-Key": "p2"},
        )

    assert default.status_code == 201, default.text
    assert default.json()["is_bonus_spent_first"] is False
    assert chosen.json()["is_bonus_spent_first"] is True


async def test_the_claims_of_a_promotion_are_listed_to_its_merchant(
    app: FastAPI, callers: Callers, database: Database, clock: FixedClock
) -> None:
    created = (await _post(app, callers.merchant_a.api_key, BODY)).json()
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), callers.merchant_a.merchant_id)
        await promotions.claim_bonus(
            session,
            merchant_id=callers.merchant_a.merchant_id,
            product_id=product.id,
            holder_id="con_holder",
            load_minor=60_000,
            currency="CNY",
            order_id="ord_api_claim",
            now=clock.now(),
        )
    path = f"{BASE}/{created['id']}/claims"

    async with api_client(app, **bearer(callers.merchant_a.api_key)) as owner:
        listed = (await owner.get(path)).json()["data"]
    async with api_client(app, **bearer(callers.merchant_b.api_key)) as other:
        refused = await other.get(path)

    assert [(c["order_id"], c["load"], c["bonus"], c["status"]) for c in listed] == [
        ("ord_api_claim", cny(60_000), cny(5_000), "claimed")
    ]
    assert refused.status_code == 404
