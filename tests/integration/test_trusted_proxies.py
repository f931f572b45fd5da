"""``X-Forwarded-For`` through a real uvicorn server, configured as ``tongka serve`` does.

The in-process test client never runs uvicorn's proxy-header handling, so these tests start
uvicorn on 127.0.0.1 in a thread, with ``tongka.cli.server.proxy_options``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from tongka.api.app import create_app
from tongka.cli.server import proxy_options
from tongka.config import Settings

LIMITED = "/v1/nothing_here"  # counted by the limiter, touches no database


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        **proxy_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _statuses_with_spoofed_addresses(base_url: str) -> list[int]:
    with httpx.Client(base_url=base_url) as client:
        return [
            client.get(LIMITED, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(3)
        ]


@pytest.mark.parametrize("environment", [{}, {"FORWARDED_ALLOW_IPS": "*"}], ids=["plain", "env"])
def test_without_a_trusted_proxy_a_spoofed_header_keeps_the_bucket(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    # given no trusted proxy (even if uvicorn's own environment variable says otherwise)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings.rate_limit_per_ip = "2/minute"
    # when one client claims a different address on each request
    with served(settings) as base_url:
        statuses = _statuses_with_spoofed_addresses(base_url)
    # then they all count against 127.0.0.1
    assert statuses == [404, 404, 429]


def test_a_trusted_proxy_sets_the_client_address(settings: Settings) -> None:
    settings.rate_limit_per_ip = "2/minute"
    settings.trusted_proxies = "127.0.0.1"
    with served(settings) as base_url:
        statuses = _statuses_with_spoofed_addresses(base_url)
    assert statuses == [404, 404, 404]  # three clients behind the proxy, one hit each


def test_proxy_options_follow_the_setting() -> None:
    assert proxy_options(Settings(trusted_proxies="")) == {
        "proxy_headers": False,
        "forwarded_allow_ips": "",
    }
    assert proxy_options(Settings(trusted_proxies=" 10.0.0.1, 10.1.0.0/16 ")) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.1,10.1.0.0/16",
    }
