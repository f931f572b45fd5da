"""Each channel's circuit breaker: a channel that keeps failing is skipped for a while.

* **closed** — calls flow. ``payments_circuit_failures`` consecutive errors (calls or
  health checks) open it.
* **open** — routing skips the channel until ``opened_until`` (now + the cool-down).
* **half open** — after the cool-down one caller claims the probe (a conditional
  ``UPDATE``, so only one does); its success closes the circuit, its failure opens it again.

Every change is one conditional ``UPDATE`` on the channel's row, and a good call writes
only when there is something to reset: the row is not touched by the normal traffic.
The breaker writes in the caller's transaction: a request that fails as a whole rolls its
count back, which is why the health-check job (which commits its own) also feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.config import Settings
from tongka.db.statements import dialect_of
from tongka.payments.channel import ChannelName
from tongka.payments.models import ChannelHealth, CircuitState

_health: Table = ChannelHealth.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Health:
    channel: ChannelName
    state: CircuitState
    consecutive_failures: int
    opened_until: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    last_check_at: datetime | None
    last_check_ok: bool | None

    def is_open_at(self, now: datetime) -> bool:
        return self.state is CircuitState.OPEN and (
            self.opened_until is None or self.opened_until > now
        )


def _aware(value: datetime | None) -> datetime | None:
    return ensure_utc(value) if value is not None else None


def _health_of(channel: ChannelName, row: ChannelHealth | None) -> Health:
    if row is None:
        return Health(channel, CircuitState.CLOSED, 0, None, None, None, None, None, None)
    return Health(
        channel,
        CircuitState(row.state),
        row.consecutive_failures,
        _aware(row.opened_until),
        row.last_error,
        _aware(row.last_error_at),
        _aware(row.last_success_at),
        _aware(row.last_check_at),
        row.last_check_ok,
    )


async def channel_health(session: AsyncSession) -> dict[ChannelName, Health]:
    query = select(ChannelHealth).execution_options(populate_existing=True)
    rows = {row.channel: row for row in (await session.scalars(query)).all()}
    return {name: _health_of(name, rows.get(name.value)) for name in ChannelName}


async def _ensure_row(session: AsyncSession, channel: ChannelName, now: datetime) -> None:
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    await session.execute(
        dialect.insert(_health)
        .values(
            channel=channel.value,
            state=CircuitState.CLOSED.value,
            consecutive_failures=0,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )


async def claim_call(
    session: AsyncSession, health: Health, *, now: datetime, settings: Settings
) -> str | None:
    """May the channel be called now? ``None`` if yes; else why not. An open circuit past
    its cool-down (or a half-open one whose probe went stale) lets exactly one caller probe."""
    if health.state is CircuitState.CLOSED:
        return None
    if health.is_open_at(now):
        return f"circuit open until {health.opened_until:%H:%M:%S} UTC"
    stale = now - timedelta(seconds=settings.payments_circuit_cooldown_seconds)
    claimed = await session.execute(
        update(_health)
        .where(
            _health.c.channel == health.channel.value,
            ((_health.c.state == CircuitState.OPEN.value) & (_health.c.opened_until <= now))
            | (
                (_health.c.state == CircuitState.HALF_OPEN.value)
                & (_health.c.probe_started_at <= stale)
            ),
        )
        .values(state=CircuitState.HALF_OPEN.value, probe_started_at=now, updated_at=now)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        return None
    return "circuit half open: a probe is under way"


async def record_failure(
    session: AsyncSession,
    channel: ChannelName,
    error: str,
    *,
    now: datetime,
    settings: Settings,
) -> None:
    await _ensure_row(session, channel, now)
    failures = _health.c.consecutive_failures + 1
    opens = (failures >= settings.payments_circuit_failures) | (
        _health.c.state == CircuitState.HALF_OPEN.value
    )
    cooldown_end = now + timedelta(seconds=settings.payments_circuit_cooldown_seconds)
    await session.execute(
        update(_health)
        .where(_health.c.channel == channel.value)
        .values(
            consecutive_failures=failures,
            state=case((opens, CircuitState.OPEN.value), else_=_health.c.state),
            opened_until=case((opens, cooldown_end), else_=_health.c.opened_until),
            last_error=error[:300],
            last_error_at=now,
            updated_at=now,
        )
    )


async def record_success(session: AsyncSession, channel: ChannelName, *, now: datetime) -> None:
    """Close the circuit and reset the count — a write only if there is anything to reset."""
    await session.execute(
        update(_health)
        .where(
            _health.c.channel == channel.value,
            (_health.c.state != CircuitState.CLOSED.value) | (_health.c.consecutive_failures > 0),
        )
        .values(
            state=CircuitState.CLOSED.value,
            consecutive_failures=0,
            opened_until=None,
            probe_started_at=None,
            last_success_at=now,
            updated_at=now,
        )
    )


async def record_check(
    session: AsyncSession,
    channel: ChannelName,
    *,
    error: str | None,
    now: datetime,
    settings: Settings,
) -> None:
    """A health check's outcome: remembered on the row, and counted like a call."""
    await _ensure_row(session, channel, now)
    await session.execute(
        update(_health)
        .where(_health.c.channel == channel.value)
        .values(last_check_at=now, last_check_ok=error is None, updated_at=now)
    )
    if error is None:
        await record_success(session, channel, now=now)
        await session.execute(
            update(_health).where(_health.c.channel == channel.value).values(last_success_at=now)
        )
    else:
        await record_failure(session, channel, error, now=now, settings=settings)
