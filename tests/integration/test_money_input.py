"""Money and currencies at the API's edge: integer minor units only, accepted currencies only.

Every money field refuses ``10000.0``, ``1e4``, ``"10000"`` and ``true`` with 422 naming the
field; every currency must be in ``TONGKA_CURRENCIES`` (default CNY), in the API and in the
services behind it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.test_card_api import PRODUCT, active_product, call
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
    return [
        ("/v1/card_products", "alpha", PRODUCT, "max_balance"),
        ("/v1/card_products", "alpha", PRODUCT | {"face_values": None}, "face_value_min"),
        ("/v1/card_products", "alpha", PRODUCT | {"face_values": None}, "face_value_max"),
        ("/v1/cards", "alpha", {"product_id": product["id"], "face_value": 10_000}, "face_value"),
        (
            "/v1/card_batches",
            "alpha",
            {
                "product_id": product["id"],
                "count": 1,
                "face_value": 10_000,
                "export_password": "correct horse battery",
            },
            "face_value",
        ),
        (
            "/v1/card_issuer_quotas",
            "platform",
            {"merchant_id": "mch_alpha", "quota": 10_000},
            "quota",
        ),
        (
            "/v1/card_regulation",
            "platform",
            {"anonymous_max_balance": 100_000},
            "anonymous_max_balance",
        ),
        ("/v1/card_regulation", "platform", {"named_max_balance": 500_000}, "named_max_balance"),
    ]


@pytest.mark.parametrize("value", NOT_INTEGERS)
async def test_money_fields_take_json_integers_only(
    client: httpx.AsyncClient, value: object
) -> None:
    refusals = []
    for path, caller, body, field in await _money_bodies(client):
        response = await call(client, "POST", path, caller, json=body | {field: value})
        refusals.append((path, field, response.status_code, response.json()["error"]["param"]))
    assert refusals == [(path, field, 422, field) for path, field, *_ in refusals]


async def test_a_face_value_list_takes_integers_only(client: httpx.AsyncClient) -> None:
    response = await call(
        client, "POST", "/v1/card_products", "alpha", json=PRODUCT | {"face_values": [10_000.0]}
    )
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "face_values.0"


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
        json={"merchant_id": "mch_alpha", "currency": currency, "quota": 1},
    )
    assert (product.status_code, product.json()["error"]["param"]) == (422, "currency")
    assert (quota.status_code, quota.json()["error"]["param"]) == (422, "currency")


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
    fields = {key: value for key, value in PRODUCT.items()}
    return fields | {"currency": currency}
