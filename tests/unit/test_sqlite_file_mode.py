"""The SQLite database file and its WAL companions are owner-only (0600)."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from tongka.db.engine import create_engine_for


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "tongka.db"
    engine = create_engine_for(f"sqlite+aiosqlite:///{path.as_posix()}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE probe (id INTEGER)"))
            await connection.execute(text("INSERT INTO probe VALUES (1)"))
        wal, shm = path.with_name("tongka.db-wal"), path.with_name("tongka.db-shm")
        assert wal.exists()
        assert shm.exists()
        assert {_mode(file) for file in (path, wal, shm)} == {0o600}
    finally:
        await engine.dispose()


async def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch()
    path.chmod(0o644)
    engine = create_engine_for(f"sqlite+aiosqlite:///{path.as_posix()}")
    await engine.dispose()
    assert _mode(path) == 0o600
