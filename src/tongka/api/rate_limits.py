"""Rate limits (``limits``): per verified API key or session, else per client IP.

Every ``/v1/`` request except the health check counts against one bucket
(``Settings.rate_limit_per_key`` / ``rate_limit_per_ip``, e.g. ``"100/second;3000/minute"``).
Over the limit: 429 ``rate_limited`` with ``Retry-After`` (whole seconds). The window is a
sliding counter (the current and the previous window's counts, weighted): two counters per
bucket, where a moving window keeps every hit — a list per bucket that memory storage
expires with a thread hop per bucket, and a Redis list per key. On a promotion day's rate
that cost more than the redemption it guarded (issue #12, "Speed").

Which bucket — and why a header alone never decides it: anyone can send
``Authorization: Bearer <junk>`` or a made-up session cookie, so if the bucket followed the
claimed credential, every public route (SMS codes, sign-in, registration, balance inquiry)
would get a fresh bucket per junk value. So:

1. A request whose credential (``callers.presented_credential``) is *known verified* counts
   against that credential's bucket (keyed by its SHA-256; the key never reaches storage).
2. Every other request — no credential, a junk one, or a real one not yet seen — counts
   against its client address.
3. When ``tongka.edge.auth`` verifies a credential (``callers.mark_authenticated``), the
   middleware remembers it as verified for ``VERIFIED_SECONDS`` in the limiter's storage
   (memory or Redis, so every API process agrees). A real key's first request therefore
   counts against its address once; its next ones against its own bucket. A key revoked
   meanwhile keeps its bucket for at most that long — authentication itself is unaffected,
   it still answers 401.

Counters live in memory (one API process) unless ``TONGKA_REDIS_URL`` is set; then in Redis,
so the limit holds across every API process. If Redis is unreachable the request is allowed
and a warning logged: an outage of the limiter must not become an outage of the API.
"""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tongka.api.errors import error_response
from tongka.config import Settings
from tongka.edge.callers import AUTHENTICATED_STATE, client_address, presented_credential
from tongka.edge.throttle import make_storage

log = structlog.get_logger(__name__)

EXEMPT_PATHS = frozenset({"/v1/health"})
VERIFIED_SECONDS = 300
_VERIFIED_PREFIX = "verified/"


class RateLimiter:
    """Checks a caller against its limits; the storage is created on first use (in the loop)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._per_key = parse_many(settings.rate_limit_per_key)
        self._per_ip = parse_many(settings.rate_limit_per_ip)
        self._strategy: SlidingWindowCounterRateLimiter | None = None

    @property
    def strategy(self) -> SlidingWindowCounterRateLimiter:
        if self._strategy is None:
            self._strategy = SlidingWindowCounterRateLimiter(make_storage(self._settings))
        return self._strategy

    async def retry_after(self, identity: str, items: list[RateLimitItem]) -> int | None:
        """Count one hit; None if allowed, else the seconds until the caller may retry."""
        for item in items:
            if not await self.strategy.hit(item, identity):
                stats = await self.strategy.get_window_stats(item, identity)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def bucket(self, request: Request) -> tuple[str, list[RateLimitItem]]:
        """The credential's bucket if it is known verified, else the client address's."""
        credential = presented_credential(request)
        if credential is not None and await self.strategy.storage.get(
            _VERIFIED_PREFIX + credential
        ):
            return credential, self._per_key
        return "ip:" + client_address(request), self._per_ip

    async def check(self, request: Request) -> tuple[int | None, bool]:
        """Count the request: the seconds to wait (None: allowed), and whether it counted
        against a credential already known verified (then nothing is left to remember)."""
        try:
            identity, items = await self.bucket(request)
            return await self.retry_after(identity, items), not identity.startswith("ip:")
        except Exception as exc:  # the limiter's storage failing must not fail the API
            log.warning("rate_limit.storage_unavailable", error=type(exc).__name__)
            return None, False

    async def remember_verified(self, request: Request) -> None:
        """After the request: keep a credential ``auth`` verified as verified for a while."""
        credential = getattr(request.state, AUTHENTICATED_STATE, None)
        if credential is None:
            return
        key = _VERIFIED_PREFIX + credential
        try:
            storage = self.strategy.storage
            if not await storage.get(key):
                await storage.incr(key, VERIFIED_SECONDS)
        except Exception as exc:
            log.warning("rate_limit.storage_unavailable", error=type(exc).__name__)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        retry_after, known_verified = await self.limiter.check(request)
        if retry_after is None:
            try:
                await self.app(scope, receive, send)
            finally:
                if not known_verified:
                    await self.limiter.remember_verified(request)
            return
        response = error_response(
            429,
            type="rate_limited",
            code="rate_limited",
            message=f"Too many requests; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)
