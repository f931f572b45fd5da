"""``tongka worker`` really delivers webhooks, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import TEST_SECRET_KEY
from tests.receiver import running_receiver
from tongka.clock import SystemClock
from tongka.config import Settings
from tongka.db import Database, migrate
from tongka.events import record_event
from tongka.webhooks.service import create_endpoint


async def _endpoint_and_event(settings: Settings, url: str) -> None:
    database = Database.from_settings(settings)
    now = SystemClock().now()
    async with database.transaction() as session:
        await create_endpoint(
            session,
            merchant_id="mch_a",
            url=url,
            enabled_events=["card.frozen"],
            description="",
            actor="test",
            settings=settings,
            now=now,
        )
        await record_event(
            session,
            type="card.frozen",
            object_type="card",
            object_id="card_1",
            actor="test",
            now=now,
            merchant_id="mch_a",
        )
    await database.dispose()


def test_tongka_worker_delivers_and_stops_on_sigterm(tmp_path: Path) -> None:
    # given a migrated database with one endpoint and one event for it
    url = f"sqlite+aiosqlite:///{(tmp_path / 'tongka.db').as_posix()}"
    migrate.upgrade(url)
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=url,
        secret_key=TEST_SECRET_KEY,
        webhook_allow_loopback=True,  # the receiver listens on 127.0.0.1
    )
    with running_receiver() as receiver:
        asyncio.run(_endpoint_and_event(settings, receiver.url))
        environment = {
            **os.environ,
            "TONGKA_ENVIRONMENT": "test",
            "TONGKA_DATABASE_URL": url,
            "TONGKA_DATA_DIR": str(tmp_path),
            "TONGKA_SECRET_KEY": TEST_SECRET_KEY,
            "TONGKA_WEBHOOK_ALLOW_LOOPBACK": "true",
        }
        # when the worker command runs
        worker = subprocess.Popen(
            [sys.executable, "-c", "from tongka.cli import main; main()", "worker"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=20)
    # then the event arrived and the worker exited cleanly
    assert [r.headers["Tongka-Event-Id"].startswith("evt_") for r in receiver.requests] == [True]
    assert worker.returncode == 0, output.decode()
