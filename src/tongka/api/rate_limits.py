"""Rate limits (``limits``): per API key, and per client IP for unauthenticated calls.

Every ``/v1/`` request except the health check counts against the caller's limits
(``Settings.rate_limit_per_key`` / ``rate_limit_per_ip``, e.g. ``"100/second;3000/minute"``).
A caller with a bearer token (or console session) is counted by a SHA-256 hash of the
token (``callers``) — the key itself never reaches the storage — and anyone else by IP.
Over the limit: 429 ``rate_limited`` with ``Retry-After`` (whole seconds).

Counters live in memory (one API process) unless ``TONGKA_REDIS_URL`` is set; then in Redis,
so the limit holds across every API process. If Redis is unreachable the request is allowed
and a warning logged: an outage of the limiter must not become an outage of the API.
"""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tongka.api.errors import error_response
from tongka.config import Settings
from tongka.edge.callers import caller_identity

log = structlog.get_logger(__name__)

EXEMPT_PATHS = frozenset({"/v1/health"})


def make_storage(settings: Settings) -> Storage:
    if settings.redis_url:
        url = settings.redis_url
        if not url.startswith("async+"):
            url = f"async+{url}"
        return RedisStorage(url, implementation="redispy", key_prefix="tongka-limits")
    return MemoryStorage()


class RateLimiter:
    """Checks a caller against its limits; the storage is created on first use (in the loop)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._per_key = parse_many(settings.rate_limit_per_key)
        self._per_ip = parse_many(settings.rate_limit_per_ip)
        self._strategy: MovingWindowRateLimiter | None = None

    @property
    def strategy(self) -> MovingWindowRateLimiter:
        if self._strategy is None:
            self._strategy = MovingWindowRateLimiter(make_storage(self._settings))
        return self._strategy

    async def retry_after(self, identity: str, items: list[RateLimitItem]) -> int | None:
        """Count one hit; None if allowed, else the seconds until the caller may retry."""
        for item in items:
            if not await self.strategy.hit(item, identity):
                stats = await self.strategy.get_window_stats(item, identity)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def check(self, request: Request) -> int | None:
        identity = caller_identity(request)
        items = self._per_ip if identity.startswith("ip:") else self._per_key
        try:
            return await self.retry_after(identity, items)
        except Exception as exc:  # the limiter's storage failing must not fail the API
            log.warning("rate_limit.storage_unavailable", error=type(exc).__name__)
            return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        retry_after = await self.limiter.check(Request(scope))
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        response = error_response(
            429,
            type="rate_limited",
            code="rate_limited",
            message=f"Too many requests; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)
