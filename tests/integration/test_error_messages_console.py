"""A domain error shown by a console page is worded for people in its language (yuan,
articles of the regulation in Chinese), while the API answers the same code and English
message, with amounts in minor units, as before."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api_support import api_client, bearer
from tests.cards_support import cny
from tests.factories import MerchantWithKey, make_merchant_with_key
from tongka.api.app import create_app
from tongka.cards.products import REGULATION
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PRODUCT_FORM = {
    "name": "Console gift card",
    "bin_prefix": "62770011",
    "number_length": "16",
    "max_balance": "1000",
    "face_values": "100,500",
    "validity_months": "36",
    "form": "virtual",
    "breakage_policy": "forfeit",
}
PRODUCT = {
    "name": "Gift card",
    "bin_prefix": "628801",
    "number_length": 16,
    "max_balance": cny(100_000),
    "is_named": False,
    "face_values": [cny(10_000), cny(50_000)],
    "validity_months": 36,
}


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
async def merchant(database: Database) -> MerchantWithKey:
    return await make_merchant_with_key(database)


@pytest.fixture
async def console(app: FastAPI, merchant: MerchantWithKey) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        token = await _csrf(client, "/console/login")
        signed_in = await client.post(
            "/console/login",
            data={
                "csrf_token": token,
                "email": merchant.admin_email,
                "password": merchant.admin_password,
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        yield client


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    match = CSRF.search((await client.get(path)).text)
    assert match is not None, path
    return match.group(1)


async def _create_product(
    console: httpx.AsyncClient, language: str = "zh-CN", **fields: str
) -> httpx.Response:
    page = f"/console/card_products?lang={language}"
    token = await _csrf(console, page)
    posted = await console.post(page, data={"csrf_token": token, **PRODUCT_FORM, **fields})
    # Post/Redirect/Get: the form's page comes back with the error next to its field
    assert (posted.status_code, posted.headers["location"]) == (303, "/console/card_products")
    return await console.get(f"{posted.headers['location']}?lang={language}")


async def test_an_invalid_bin_is_refused_in_chinese(console: httpx.AsyncClient) -> None:
    refused = await _create_product(console, bin_prefix="12")
    assert "卡BIN 须为 6 至 8 位数字。" in refused.text
    assert "The BIN is 6 to 8 digits" not in refused.text


async def test_a_too_high_max_balance_cites_the_regulation_in_yuan(
    console: httpx.AsyncClient,
) -> None:
    # given: an anonymous product over the regulation's ¥1,000
    refused = await _create_product(console, max_balance="2000", face_values="100")
    assert (
        "根据《单用途商业预付卡管理办法（试行）》第二十一条，不记名卡单卡余额不得超过 ¥1,000.00。"
        in refused.text
    )
    english = await _create_product(console, "en", max_balance="2000", face_values="100")
    assert "an anonymous card may hold at most ¥1,000.00." in english.text
    assert "minor units" not in english.text


async def _api_post(app: FastAPI, api_key: str, path: str, body: dict[str, Any]) -> Any:
    headers = bearer(api_key) | {"Idempotency-Key": str(uuid.uuid4())}
    async with api_client(app, **headers) as client:
        return await client.post(path, json=body)


async def test_the_api_keeps_its_codes_and_english_messages(
    app: FastAPI, merchant: MerchantWithKey
) -> None:
    over = await _api_post(
        app, merchant.api_key, "/v1/card_products", PRODUCT | {"max_balance": cny(200_000)}
    )
    assert over.status_code == 422
    assert over.json() == {
        "error": {
            "type": "unprocessable",
            "code": "regulation_violation",
            "message": f"{REGULATION}第二十一条: an anonymous card (不记名卡) may hold at most "
            "¥1,000.00.",
            "param": None,
        }
    }
    too_big = await _api_post(
        app, merchant.api_key, "/v1/card_products", PRODUCT | {"face_values": [cny(200_000)]}
    )
    assert too_big.status_code == 400
    assert too_big.json() == {
        "error": {
            "type": "invalid_request",
            "code": "invalid_card_product",
            "message": "face_values: Face values must be positive and at most the maximum balance.",
            "param": "face_values",
        }
    }


async def test_the_error_page_words_the_error_in_the_pages_language(
    console: httpx.AsyncClient,
) -> None:
    missing = await console.get("/console/cards/crd_does_not_exist")
    assert missing.status_code == 404
    assert "卡片不存在。" in missing.text
    assert "No such card." not in missing.text
    english = await console.get("/console/cards/crd_does_not_exist?lang=en")
    assert "No such card." in english.text
