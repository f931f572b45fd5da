"""The identity demo step: working credentials, and a second run creates nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.factories import api_client, read_sandbox_code
from tongka.api.app import create_app
from tongka.clock import FixedClock
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
    assert counts["consumers"] == 1
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


async def test_the_demo_consumer_signs_in_with_a_sandbox_code(
    settings: Settings, database: Database
) -> None:
    path = await load_demo_data(database, settings, NOW)
    holder = json.loads(path.read_text())["consumer"]
    app = create_app(settings, database=database, clock=FixedClock(NOW))
    async with api_client(app) as client:
        sent = await client.post("/v1/consumer_sessions/codes", json={"phone": holder["phone"]})
        assert sent.status_code == 202
        code = await read_sandbox_code(database, holder["phone"])
        signed_in = await client.post(
            "/v1/consumer_sessions", json={"phone": holder["phone"], "code": code}
        )
    assert signed_in.status_code == 201
    assert signed_in.json()["consumer"]["id"] == holder["id"]
    assert "/console/sandbox_sms" in holder["how_to_sign_in"]
