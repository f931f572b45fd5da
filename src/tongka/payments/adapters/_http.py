"""What every network adapter shares: one httpx client, errors mapped to ``ChannelError``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tongka.payments.channel import ChannelError

CHINA = ZoneInfo("Asia/Shanghai")  # every channel's wall clock


class ChannelHttp:
    """An httpx client bound to the gateway's base URL. Network failures and 5xx answers are
    retryable ``ChannelError``s; the adapter decides about the rest."""

    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=10.0)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + path

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, self.url(path), **kwargs)
        except httpx.HTTPError as exc:
            raise ChannelError(f"channel unreachable: {exc.__class__.__name__}") from exc
        if response.status_code >= 500:
            raise ChannelError(f"channel answered {response.status_code}")
        return response


def china_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("aware datetimes only")
    return value.astimezone(CHINA)


def parse_china_time(text: str | None, fmt: str | None = None) -> datetime | None:
    """A channel timestamp (RFC 3339, or ``fmt`` in China time) as an aware UTC datetime."""
    if not text:
        return None
    if fmt:
        return datetime.strptime(text, fmt).replace(tzinfo=CHINA).astimezone(UTC)
    return datetime.fromisoformat(text).astimezone(UTC)


def iter_lines(content: bytes | Any) -> Any:
    """Lines of a statement given as bytes or any iterable of byte chunks (a streamed
    download, an open file), without joining the whole: chunks are split as they come."""
    if isinstance(content, bytes | bytearray):
        start = 0
        while start < len(content):
            end = content.find(b"\n", start)
            if end < 0:
                end = len(content)
            yield bytes(content[start:end]).rstrip(b"\r")
            start = end + 1
        return
    pending = b""
    for chunk in content:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r")
    if pending:
        yield pending.rstrip(b"\r")
