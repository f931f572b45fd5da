"""Created-time filters on every list endpoint: naive times are platform time, none is a 5xx.

The walk covers every operation of the OpenAPI document that takes ``created_gte`` or
``created_lt``, so a list endpoint added later is checked without touching this file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api_support import api_client
from tests.factories import make_platform_key
from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.pagination import platform_instant

VALUES = [
    "2020-01-01",
    "2020-01-01T00:00:00",
    "2020-01-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01",
    "9999-12-31",
]


def _filtered_list_paths(document: dict[str, Any]) -> list[str]:
    paths = []
    for path, operations in document["paths"].items():
        get = operations.get("get", {})
        names = {parameter["name"] for parameter in get.get("parameters", [])}
        if "created_gte" in names and "{" not in path:
            paths.append(path)
    return paths


async def test_no_created_filter_value_produces_a_server_error(
    settings: Settings, sqlite_database: Database
) -> None:
    settings.rate_limit_per_key = settings.rate_limit_per_ip = "10000/minute"
    app = create_app(settings, database=sqlite_database)
    key = await make_platform_key(sqlite_database)
    paths = _filtered_list_paths(app.openapi())
    assert len(paths) >= 5  # cards, products, batches, events, merchants...
    problems = []
    async with api_client(app, authorization=f"Bearer {key}") as client:
        for path in paths:
            for name in ("created_gte", "created_lt"):
                for value in VALUES:
                    response = await client.get(path, params={name: value})
                    if response.status_code >= 500 or response.status_code not in (200, 422):
                        problems.append((path, name, value, response.status_code))
                    elif response.status_code == 422:
                        assert response.json()["error"]["param"] == name
    assert problems == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            datetime(2026, 1, 1),  # noqa: DTZ001 - the naive input under test
            datetime(2025, 12, 31, 16, tzinfo=UTC),
            id="naive",
        ),
        pytest.param(
            datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), id="aware"
        ),
    ],
)
def test_a_naive_time_is_read_in_the_platform_time_zone(
    value: datetime, expected: datetime
) -> None:
    assert platform_instant(value, "Asia/Shanghai", param="created_gte") == expected


async def test_a_date_filter_means_the_start_of_that_business_day(
    settings: Settings, sqlite_database: Database
) -> None:
    # given events created 2026-01-01T00:00Z, i.e. 08:00 on 2026-01-01 in Shanghai
    app = create_app(settings, database=sqlite_database)
    key = await make_platform_key(sqlite_database)
    async with api_client(app, authorization=f"Bearer {key}") as client:
        same_day = await client.get("/v1/events", params={"created_gte": "2026-01-01"})
        next_day = await client.get("/v1/events", params={"created_gte": "2026-01-02"})
        before = await client.get("/v1/events", params={"created_lt": "2026-01-01T08:00:00"})
    assert same_day.status_code == 200
    assert len(same_day.json()["data"]) >= 1
    assert next_day.json()["data"] == []
    assert before.json()["data"] == []
