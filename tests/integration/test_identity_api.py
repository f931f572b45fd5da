"""The identity endpoints over HTTP (httpx + ASGITransport), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import (
    TEST_PASSWORD,
    api_client,
    make_merchant_with_key,
    make_platform_key,
    unique_email,
    valid_credit_code,
)
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
async def public(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as client:
        yield client


def registration_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "legal_name": "上海示例餐饮有限公司",
        "credit_code": valid_credit_code(),
        "contact_name": "李四",
        "contact_phone": "13900139000",
        "contact_email": unique_email("contact"),
        "admin_email": unique_email("admin"),
        "admin_password": TEST_PASSWORD,
        "settlement_account": {
            "bank_name": "招商银行",
            "account_name": "上海示例餐饮有限公司",
            "account_number": "6225 8812 3456 7890",
        },
    }
    return {**body, **overrides}


async def test_onboarding_over_the_api(
    app: FastAPI, public: httpx.AsyncClient, database: Database
) -> None:
    # given a public registration
    response = await public.post("/v1/merchants", json=registration_body())
    assert response.status_code == 201, response.text
    merchant = response.json()
    assert merchant["id"].startswith("mch_")
    assert merchant["status"] == "pending_review"
    assert merchant["settlement_account"]["account_number_masked"] == "**** **** **** 7890"
    assert merchant["created_at"] == "2026-01-01T00:00:00Z"
    # when a platform admin approves it
    admin_key = await make_platform_key(database)
    async with api_client(app, admin_key) as admin:
        pending = await admin.get("/v1/merchants", params={"status": "pending_review"})
        assert [item["id"] for item in pending.json()["data"]] == [merchant["id"]]
        approved = await admin.post(f"/v1/merchants/{merchant['id']}/approve")
        again = await admin.post(f"/v1/merchants/{merchant['id']}/approve")
    # then it is active, and approving twice is refused
    assert approved.status_code == 200
    assert approved.json()["status"] == "active"
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "illegal_status_transition"


@pytest.mark.parametrize(
    ("overrides", "status", "code", "param"),
    [
        pytest.param({"surprise": 1}, 422, "unknown_field", "surprise", id="unknown-field"),
        pytest.param(
            {"credit_code": "91350100M000100Y44"},
            400,
            "invalid_credit_code",
            "credit_code",
            id="check-digit",
        ),
        pytest.param(
            {"credit_code": "91３50100M000100Y43"},
            400,
            "invalid_credit_code",
            "credit_code",
            id="full-width-digit",
        ),
        pytest.param(
            {"legal_name": "bad\x00name"}, 422, "validation_failed", "legal_name", id="nul"
        ),
        pytest.param(
            {"admin_password": "short"},
            422,
            "validation_failed",
            "admin_password",
            id="short-password",
        ),
    ],
)
async def test_bad_registrations_name_the_problem_and_write_nothing(
    app: FastAPI,
    public: httpx.AsyncClient,
    database: Database,
    overrides: dict[str, object],
    status: int,
    code: str,
    param: str,
) -> None:
    response = await public.post("/v1/merchants", json=registration_body(**overrides))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["param"] == param
    admin_key = await make_platform_key(database)
    async with api_client(app, admin_key) as admin:
        assert (await admin.get("/v1/merchants")).json()["data"] == []


async def test_a_merchant_manages_stores_terminals_users_and_keys(
    app: FastAPI, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    async with api_client(app, merchant.api_key) as client:
        store = await client.post(
            "/v1/stores",
            json={
                "name": "徐家汇店",
                "address": "漕溪北路1号",
                "city": "上海",
                "latitude": "31.195",
                "longitude": "121.437",
            },
        )
        assert store.status_code == 201, store.text
        assert store.json()["latitude"] == "31.195000"
        store_id = store.json()["id"]
        terminal = await client.post(
            "/v1/terminals", json={"store_id": store_id, "device_id": "POS-0001"}
        )
        duplicate = await client.post(
            "/v1/terminals", json={"store_id": store_id, "device_id": "POS-0001"}
        )
        cashier = await client.post(
            "/v1/users",
            json={
                "email": unique_email("cashier"),
                "display_name": "收银员",
                "role": "cashier",
                "password": TEST_PASSWORD,
                "store_id": store_id,
            },
        )
        created_key = await client.post(
            "/v1/api_keys", json={"name": "till", "role": "cashier", "store_id": store_id}
        )
        listed = await client.get("/v1/api_keys")
        merchants = await client.get("/v1/merchants")
    assert terminal.status_code == 201
    assert terminal.json()["id"].startswith("trm_")
    assert duplicate.status_code == 409
    assert cashier.status_code == 201
    assert cashier.json()["merchant_id"] == merchant.merchant_id
    assert "password" not in cashier.text
    assert created_key.status_code == 201
    secret = created_key.json()["secret"]
    assert secret.startswith("tk_live_")
    assert secret not in listed.text
    assert {item["id"] for item in listed.json()["data"]} == {
        merchant.api_key_id,
        created_key.json()["id"],
    }
    assert [item["id"] for item in merchants.json()["data"]] == [merchant.merchant_id]
    # the cashier key works, but may not manage stores
    async with api_client(app, secret) as till:
        assert (await till.get("/v1/stores")).status_code == 200
        refused = await till.post("/v1/stores", json={"name": "x", "address": "y", "city": "z"})
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission_denied"


async def test_missing_wrong_and_revoked_keys_get_401(app: FastAPI, database: Database) -> None:
    merchant = await make_merchant_with_key(database)
    async with api_client(app) as anonymous:
        missing = await anonymous.get("/v1/stores")
        basic = await anonymous.get("/v1/stores", headers={"Authorization": "Basic eDp5"})
    async with api_client(app, "tk_live_" + "x" * 40) as wrong:
        unknown = await wrong.get("/v1/stores")
    async with api_client(app, merchant.api_key) as client:
        revoked = await client.post(f"/v1/api_keys/{merchant.api_key_id}/revoke")
        after = await client.get("/v1/stores")
    assert missing.status_code == basic.status_code == unknown.status_code == 401
    assert unknown.json()["error"] == {
        "type": "authentication_failed",
        "code": "invalid_api_key",
        "message": "The API key is unknown or revoked.",
        "param": None,
    }
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert after.status_code == 401


async def test_platform_only_endpoints_refuse_merchants(app: FastAPI, database: Database) -> None:
    merchant = await make_merchant_with_key(database)
    async with api_client(app, merchant.api_key) as client:
        consumers = await client.get("/v1/consumers")
        approve = await client.post(f"/v1/merchants/{merchant.merchant_id}/approve")
    assert consumers.status_code == approve.status_code == 403
    support_key = await make_platform_key(database, role="support")
    async with api_client(app, support_key) as support:
        created = await support.post("/v1/consumers", json={"phone": "13700137000"})
        level = await support.post(
            f"/v1/consumers/{created.json()['id']}/kyc_level", json={"kyc_level": 2}
        )
    assert created.status_code == 201
    assert created.json()["kyc_level_name"] == "none"
    assert level.status_code == 403  # setting KYC levels is for risk (or admin)


async def test_malformed_path_ids_are_refused_before_any_query(
    app: FastAPI, database: Database
) -> None:
    merchant = await make_merchant_with_key(database)
    async with api_client(app, merchant.api_key) as client:
        response = await client.get("/v1/stores/sto_%00x")
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "store_id"
