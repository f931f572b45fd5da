"""Per-address limits on public checks by a credential-like value (a receipt's code).

The API's rate limiter (``tongka.api.rate_limits``) counts every ``/v1`` request; a public
*check* — something a stranger could try many values of — also gets a stricter budget of
its own per client address, shared by the API route and the console page that do the same
check (``Settings.receipt_check_rate_limit``, e.g. ``"30 per 10 minutes"``: the balance
inquiry's budget). Over it: ``RateLimited`` with ``retry_after_seconds``, which the API
answers 429 with ``Retry-After`` and the console as a page.

Counters live where the API's do: in memory (per process), or in Redis when
``TONGKA_REDIS_URL`` is set, so every process agrees. One ``Throttle`` per application
(``request.app.state``), so two apps in one test process never share counts. A storage
outage lets the check through (logged), as the API's limiter does.
"""

from __future__ import annotations

import math
import time

import structlog
from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from tongka.config import Settings
from tongka.edge.callers import client_address
from tongka.errors import RateLimited

log = structlog.get_logger(__name__)

_STATE = "public_check_throttle"


def make_storage(settings: Settings) -> Storage:
    """The limiter's storage: Redis when configured (shared by processes), else memory."""
    if settings.redis_url:
        url = settings.redis_url
        if not url.startswith("async+"):
            url = f"async+{url}"
        return RedisStorage(url, implementation="redispy", key_prefix="tongka-limits")
    return MemoryStorage()


class Throttle:
    """Named per-address budgets; the storage is created on first use (in the loop)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._strategy: MovingWindowRateLimiter | None = None

    @property
    def strategy(self) -> MovingWindowRateLimiter:
        if self._strategy is None:
            self._strategy = MovingWindowRateLimiter(make_storage(self._settings))
        return self._strategy

    async def retry_after(self, name: str, items: list[RateLimitItem], client: str) -> int | None:
        """Count one check; None if allowed, else the seconds until the next is."""
        identity = f"{name}/ip:{client}"
        try:
            for item in items:
                if not await self.strategy.hit(item, identity):
                    stats = await self.strategy.get_window_stats(item, identity)
                    return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:  # the limiter's storage failing must not fail the check
            log.warning("throttle.storage_unavailable", error=type(exc).__name__)
        return None


def throttle_of(request: Request, settings: Settings) -> Throttle:
    throttle = getattr(request.app.state, _STATE, None)
    if throttle is None:
        throttle = Throttle(settings)
        setattr(request.app.state, _STATE, throttle)
    return throttle


async def count_public_check(
    request: Request, settings: Settings, *, name: str, limit: str, code: str
) -> None:
    """Count one ``name`` check from the request's address against ``limit``
    (``limits`` notation, ';'-separated); ``RateLimited(code=code)`` when over it."""
    retry = await throttle_of(request, settings).retry_after(
        name, parse_many(limit), client_address(request)
    )
    if retry is not None:
        raise RateLimited(
            f"Too many {name.replace('_', ' ')}s from this address; retry in {retry} seconds.",
            code=code,
            retry_after_seconds=retry,
        )
