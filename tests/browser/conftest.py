"""Browser-test fixtures: the app served by uvicorn on a free port, and Debian's Chromium.

Never downloads a browser: Playwright drives ``/usr/bin/chromium`` (``.ci/run`` installs
it with apt). Without it the tests are skipped locally and FAIL when ``CI=true``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.conftest import IS_CI, TEST_SECRET_KEY
from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import migrate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    """Settings for a fresh, migrated SQLite file."""
    url = f"sqlite+aiosqlite:///{(tmp_path / 'live.db').as_posix()}"
    migrate.upgrade(url)
    return Settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=url,
        secret_key=TEST_SECRET_KEY,
        log_level="WARNING",
    )


@pytest.fixture
def live_server(live_settings: Settings) -> Iterator[str]:
    """The whole app on http://127.0.0.1:<free port>, served from a background thread."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(live_settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IS_CI:
            pytest.fail(f"CI=true requires the browser tests: {message}")
        pytest.skip(message)
    return CHROMIUM
