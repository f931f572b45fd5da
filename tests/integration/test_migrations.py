"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import PG_ADMIN_URL, _pg_execute, _url_with_database
from tongka.db import migrate
from tongka.db.engine import create_engine_for
from tongka.db.models import import_all_models


async def _schema_differences(url: str) -> list[object]:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as connection:

            def compare(sync_connection: object) -> list[object]:
                context = MigrationContext.configure(
                    sync_connection,
                    opts={"compare_type": True},  # type: ignore[arg-type]
                )
                return list(compare_metadata(context, import_all_models()))

            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{(tmp_path / 'migrated.db').as_posix()}"
    migrate.upgrade(url)
    migrate.upgrade(url)  # a second run is a no-op
    assert asyncio.run(_schema_differences(url)) == []


@pytest.mark.pg
def test_postgresql_migrations_match_models() -> None:
    name = f"tongka_migrate_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_execute(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    try:
        url = _url_with_database(PG_ADMIN_URL, name)
        migrate.upgrade(url)
        assert asyncio.run(_schema_differences(url)) == []
    finally:
        asyncio.run(_pg_execute(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
