"""Our OpenAPI document tells the truth: schemathesis fuzzes every operation against it.

For each operation, as a merchant and as a platform caller, it sends the documented examples
and generated requests (``TONGKA_SCHEMATHESIS_EXAMPLES`` each, default 10, derandomized so CI
is reproducible) and checks that no answer is a server error and that every status, content
type, header and body is the one the document declares. Every problem is reported together.
It runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette_testclient import TestClient  # requests-based, as schemathesis expects

from tests.api_support import bearer
from tests.conftest import PG_ADMIN_URL, TEST_SECRET_KEY, _pg_execute, _url_with_database
from tests.factories import make_merchant_with_key, make_platform_key
from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import Database, migrate
from tongka.db.engine import create_engine_for

EXAMPLES = int(os.environ.get("TONGKA_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)


async def _keys(url: str) -> dict[str, str]:
    database = Database(create_engine_for(url))
    try:
        merchant = await make_merchant_with_key(database, with_store=True)
        return {"merchant": merchant.api_key, "platform": await make_platform_key(database)}
    finally:
        await database.dispose()


def fuzz(
    strategy: SearchStrategy[schemathesis.Case],
    examples: int,
    check: Callable[[schemathesis.Case], None],
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        check(case)

    run()


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database built by the migrations (PostgreSQL finds what SQLite lets pass,
    such as NUL characters in text)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{(tmp_path / 'fuzz.db').as_posix()}"
        migrate.upgrade(url)
        yield url
        return
    name = f"tongka_fuzz_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_execute(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    try:
        url = _url_with_database(PG_ADMIN_URL, name)
        migrate.upgrade(url)
        yield url
    finally:
        asyncio.run(_pg_execute(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_every_operation_conforms_to_the_openapi_document(
    tmp_path: Path, migrated_url: str
) -> None:
    # given the app on a migrated database, called by a merchant's full-access key and by a
    # platform admin's key (so platform-only operations are fuzzed past their role check)
    url = migrated_url
    app_settings = Settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=url,
        secret_key=TEST_SECRET_KEY,
        rate_limit_per_key="100000/second",
        rate_limit_per_ip="100000/second",
    )
    callers = asyncio.run(_keys(url))
    app = create_app(app_settings)
    schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI writes OpenAPI 3.1
    schema = schemathesis.from_dict(app.openapi())
    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    operations = 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for caller, api_key in callers.items():

                def conforms(case: schemathesis.Case, api_key: str = api_key) -> None:
                    headers = {**bearer(api_key), "Idempotency-Key": str(uuid.uuid4())}
                    response = case.call(
                        session=client, base_url="http://testserver", headers=headers
                    )
                    statuses[response.status_code] += 1
                    case.validate_response(response, checks=CHECKS)

                # the documented examples first (they reach the success paths), then fuzzing
                runs = [(strategy, 3) for strategy in operation.get_strategies_from_examples()]
                runs.append((operation.as_strategy(), EXAMPLES))
                try:
                    for strategy, examples in runs:
                        fuzz(strategy, examples, conforms)
                except Exception as exc:  # collect every problem, then fail once
                    failures[f"{operation.verbose_name} as {caller}"] = str(exc)[:2000]
    # then
    assert operations >= 8
    assert statuses[201] > 0, statuses  # the examples reached handlers, not only validation
    assert failures == {}, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
