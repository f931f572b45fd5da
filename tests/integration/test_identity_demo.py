"""The identity demo step: working credentials, and a second run creates nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.factories import api_client
from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import Database
from tongka.db.models import import_all_models
from tongka.demo import load_demo_data
from tongka.identity import service as identity
from tongka.identity.crypto import IdentityKeys

NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def _row_counts(database: Database) -> dict[str, int]:
    async with database.transaction() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)))
            for table in import_all_models().sorted_tables
        }


async def test_demo_credentials_work_and_a_second_run_changes_nothing(
    settings: Settings, database: Database
) -> None:
    path = await load_demo_data(database, settings, NOW)
    first = json.loads(path.read_text())
    counts = await _row_counts(database)
    path.unlink()  # even without the old file, the same credentials come back
    await load_demo_data(database, settings, NOW)
    assert json.loads(path.read_text()) == first
    assert await _row_counts(database) == counts
    assert counts["merchants"] == 2
    assert counts["stores"] == counts["terminals"] == 2
    assert counts["users"] == 5
    # the credentials work: API keys against the API, passwords at login
    app = create_app(settings, database=database)
    for merchant in first["merchants"]:
        async with api_client(app, merchant["api_key"]) as client:
            stores = (await client.get("/v1/stores")).json()["data"]
        assert [store["id"] for store in stores] == [merchant["store_id"]]
    keys = IdentityKeys.from_settings(settings)
    for account in (first["platform_admin"], first["merchants"][1]["cashier"]):
        async with database.transaction() as session:
            result = await identity.login(
                session, keys, email=account["email"], password=account["password"], now=NOW
            )
        assert result.succeeded
