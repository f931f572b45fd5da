"""Browser-test fixtures: the app served by uvicorn on a free port, and Debian's Chromium.

Never downloads a browser: Playwright drives ``/usr/bin/chromium`` (``.ci/run`` installs
it with apt). Without it the tests are skipped locally and FAIL when ``CI=true``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page

from tests.conftest import IS_CI, TEST_SECRET_KEY, run_blocking
from tests.console_world import ConsoleWorld, build_world
from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import Database, migrate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settings(directory: Path) -> Settings:
    """Settings for a fresh, migrated SQLite file in ``directory``."""
    url = f"sqlite+aiosqlite:///{(directory / 'live.db').as_posix()}"
    migrate.upgrade(url)
    return Settings(
        environment="test",
        data_dir=directory / "var",
        database_url=url,
        secret_key=TEST_SECRET_KEY,
        log_level="WARNING",
    )


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    return _settings(tmp_path)


@pytest.fixture
def live_server(live_settings: Settings) -> Iterator[str]:
    with _served(live_settings) as url:
        yield url


@dataclass(frozen=True)
class LiveWorld:
    """A live server over the demo data, with a session per role (``ConsoleWorld``)."""

    url: str
    settings: Settings
    world: ConsoleWorld


@pytest.fixture(scope="module")
def live_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    """Built once per module: the demo data, the sessions and the server (a few seconds)."""
    settings = _settings(tmp_path_factory.mktemp("world"))

    async def build() -> ConsoleWorld:
        database = Database.from_settings(settings)
        try:
            return await build_world(database, settings, datetime.now(UTC))
        finally:
            await database.dispose()

    world = run_blocking(build())
    with _served(settings) as url:
        yield LiveWorld(url, settings, world)


@contextmanager
def screenshot_on_failure(page: Page, path: Path) -> Iterator[None]:
    """Keep what the browser showed when the test failed (``path``, a PNG)."""
    try:
        yield
    except BaseException:
        page.screenshot(path=str(path), full_page=True)
        raise


@contextmanager
def _served(settings: Settings, *, app: Any = None, port: int | None = None) -> Iterator[str]:
    """The whole app (or ``app``: the sandbox gateway...) on http://127.0.0.1:<port, free
    unless given>, served from a background thread."""
    port = port or _free_port()
    served = app if app is not None else create_app(settings)
    config = uvicorn.Config(served, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IS_CI:
            pytest.fail(f"CI=true requires the browser tests: {message}")
        pytest.skip(message)
    return CHROMIUM
