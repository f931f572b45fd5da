"""Money and currencies at the API's edge: integer minor units only, accepted currencies only.

Every money field refuses ``10000.0``, ``1e4``, ``"10000"`` and ``true`` with 422 naming the
field; every currency must be in ``TONGKA_CURRENCIES`` (default CNY), in the API and in the
services behind it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cards_support import cny
from tests.integration.test_card_api import PRODUCT, active_product, call, issued_card
from tests.integration.test_card_api import client as client  # noqa: PLC0414 - the fixture
from tongka import currencies
from tongka.cards import service
from tongka.cards.products import spec_problems
from tongka.config import ConfigurationError, Settings
from tongka.currencies import CurrencyNotEnabled, require_enabled
from tongka.money import UnknownCurrency

NOT_INTEGERS = [
    pytest.param(10000.0, id="float"),
    pytest.param(1e4, id="exponent"),
    pytest.param("10000", id="string"),
    pytest.param(True, id="bool"),
]


async def _money_bodies(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any], str]]:
    """(path, caller, valid body, money field) for every request body with a money field."""
    product = await active_product(client)
    ranged = PRODUCT | {"face_values": None, "face_value_min": cny(100), "face_value_max": cny(900)}
    return [
        ("/v1/card_products", "alpha", PRODUCT, "max_balance"),
        ("/v1/card_products", "alpha", ranged, "face_value_min"),
        ("/v1/card_products", "alpha", ranged, "face_value_max"),
        (
            "/v1/cards",
            "alpha",
            {"product_id": product["id"], "face_value": cny(10_000)},
            "face_value",
        ),
        (
            "/v1/card_batches",
            "alpha",
            {
                "product_id": product["id"],
                "count": 1,
                "face_value": cny(10_000),
                "export_password": "correct horse battery",
            },
            "face_value",
        ),
        (
            "/v1/card_issuer_quotas",
            "platform",
            {"merchant_id": "mch_alpha", "quota": cny(1)},
            "quota",
        ),
        (
            "/v1/card_batches/cb_missing/activate",
            "platform",
            {"transfer_reference": "B", "amount": cny(1)},
            "amount",
        ),
    ]


def _with_amount(body: dict[str, Any], field: str, value: object) -> dict[str, Any]:
    return body | {field: body[field] | {"amount": value}}


@pytest.mark.parametrize("value", NOT_INTEGERS)
async def test_money_fields_take_json_integers_only(
    client: httpx.AsyncClient, value: object
) -> None:
    refusals = []
    for path, caller, body, field in await _money_bodies(client):
        response = await call(client, "POST", path, caller, json=_with_amount(body, field, value))
        refusals.append((path, field, response.status_code, response.json()["error"]["param"]))
    assert refusals == [(path, field, 422, f"{field}.amount") for path, field, *_ in refusals]


@pytest.mark.parametrize("value", NOT_INTEGERS)
@pytest.mark.parametrize("field", ["anonymous_max_balance", "named_max_balance"])
async def test_regulation_amounts_take_json_integers_only(
    client: httpx.AsyncClient, value: object, field: str
) -> None:
    response = await call(client, "POST", "/v1/card_regulation", "platform", json={field: value})
    assert (response.status_code, response.json()["error"]["param"]) == (422, field)


async def test_a_bare_integer_is_no_longer_money(client: httpx.AsyncClient) -> None:
    response = await call(
        client, "POST", "/v1/card_products", "alpha", json=PRODUCT | {"max_balance": 100_000}
    )
    assert (response.status_code, response.json()["error"]["param"]) == (422, "max_balance")


async def test_a_face_value_list_takes_integers_only(client: httpx.AsyncClient) -> None:
    body = PRODUCT | {"face_values": [{"amount": 10_000.0, "currency": "CNY"}]}
    response = await call(client, "POST", "/v1/card_products", "alpha", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "face_values.0.amount"


async def test_an_amount_in_another_currency_than_the_product_is_refused(
    client: httpx.AsyncClient,
) -> None:
    try:
        currencies.configure(Settings(currencies="CNY,HKD"))
        product = await call(
            client,
            "POST",
            "/v1/card_products",
            "alpha",
            json=PRODUCT | {"face_values": [cny(10_000), {"amount": 50_000, "currency": "HKD"}]},
        )
        active = await active_product(client)
        issued = await call(
            client,
            "POST",
            "/v1/cards",
            "alpha",
            json={"product_id": active["id"], "face_value": {"amount": 10_000, "currency": "HKD"}},
        )
    finally:
        currencies.configure(Settings())
    assert product.status_code == 422
    assert product.json()["error"]["param"] == "face_values.1.currency"
    assert product.json()["error"]["code"] == "currency_mismatch"
    assert (issued.status_code, issued.json()["error"]["param"]) == (422, "face_value.currency")


async def test_responses_carry_money_with_its_currency(client: httpx.AsyncClient) -> None:
    issued = await issued_card(client)
    product = (
        await call(client, "GET", f"/v1/card_products/{issued['product_id']}", "alpha")
    ).json()
    assert product["max_balance"] == cny(100_000)
    assert product["face_values"] == [cny(10_000), cny(50_000)]
    assert issued["face_value"] == cny(10_000)
    assert issued["balance"]["total"] == cny(0)


@pytest.mark.parametrize("currency", ["ZZZ", "XAU", "USD", "cny", ""])
async def test_only_accepted_currencies_enter(client: httpx.AsyncClient, currency: str) -> None:
    product = await call(
        client, "POST", "/v1/card_products", "alpha", json=PRODUCT | {"currency": currency}
    )
    quota = await call(
        client,
        "POST",
        "/v1/card_issuer_quotas",
        "platform",
        json={"merchant_id": "mch_alpha", "quota": {"amount": 1, "currency": currency}},
    )
    assert (product.status_code, product.json()["error"]["param"]) == (422, "currency")
    assert (quota.status_code, quota.json()["error"]["param"]) == (422, "quota.currency")


def test_services_refuse_a_currency_the_platform_does_not_accept() -> None:
    # the last line: a caller that skips the edge (CLI, a job, another part)
    problems = dict(spec_problems(service.ProductSpec(**_spec_fields("USD"))))
    assert "currency" in problems
    with pytest.raises(CurrencyNotEnabled):
        require_enabled("USD")
    with pytest.raises(UnknownCurrency):
        require_enabled("ZZZ")
    assert require_enabled("CNY") == "CNY"


def test_the_setting_enables_currencies_and_refuses_unknown_ones() -> None:
    try:
        currencies.configure(Settings(currencies="CNY, HKD"))
        assert currencies.enabled_currencies() == ("CNY", "HKD")
        assert require_enabled("HKD") == "HKD"
        with pytest.raises(ConfigurationError):
            currencies.configure(Settings(currencies="CNY,XAU"))
    finally:
        currencies.configure(Settings())


def _spec_fields(currency: str) -> dict[str, Any]:
    return PRODUCT | {
        "currency": currency,
        "max_balance": PRODUCT["max_balance"]["amount"],
        "face_values": [amount["amount"] for amount in PRODUCT["face_values"]],
    }
