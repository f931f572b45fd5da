"""What the in-process profile harnesses share (``bench/profile_redemption.py``,
``bench/profile_sales.py``): SQL statements, commits and savepoints counted through
SQLAlchemy's engine events, a timed run of concurrent client tasks (wall and this
process's CPU), and the printed tables.

Statements sent through SQLAlchemy (the ORM, Core, and ``exec_driver_sql`` of the
``DriverStatement``s run on a SQLAlchemy unit of work) are counted; a ``DriverConnection``'s
(asyncpg itself, ``Database.driver_transaction``) are not.
"""

from __future__ import annotations

import asyncio
import collections
import cProfile
import pstats
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import event

from tongka.db import Database


@dataclass
class StatementCounter:
    """Counts of statements (and their first words), commits and savepoints while ``on``."""

    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    trace: list[str] | None = None  # every statement's text, in order, when a list
    on: bool = True

    def listen(self, database: Database) -> StatementCounter:
        engine = database.engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def _statement(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if not self.on:
                return
            self.counts["statements"] += 1
            head = " ".join(statement.split()[:4])[:60]
            self.counts["s: " + head] += 1
            if self.trace is not None:
                self.trace.append(" ".join(statement.split())[:150])

        @event.listens_for(engine, "commit")
        def _commit(conn):  # type: ignore[no-untyped-def]
            if self.on:
                self.counts["commits"] += 1

        @event.listens_for(engine, "savepoint")
        def _savepoint(conn, name):  # type: ignore[no-untyped-def]
            if self.on:
                self.counts["savepoints"] += 1

        return self

    def take(self) -> collections.Counter[str]:
        """The counts so far, and start again from zero."""
        taken, self.counts = self.counts, collections.Counter()
        if self.trace is not None:
            self.trace.clear()
        return taken


@dataclass(frozen=True)
class Timed:
    requests: int
    clients: int
    elapsed: float  # seconds, wall
    cpu: float  # seconds of this process's CPU

    @property
    def per_second(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    @property
    def wall_ms(self) -> float:
        return self.elapsed / self.requests * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.requests * 1000


async def run_clients(
    jobs: Iterable[int],
    one: Callable[[int], Awaitable[None]],
    *,
    clients: int,
    profile: cProfile.Profile | None = None,
) -> Timed:
    """Run ``one(job)`` for every job from ``clients`` concurrent tasks; time the whole."""
    queue = list(jobs)
    queue.reverse()  # popped from the end: jobs run in the order given
    count = len(queue)

    async def client_task() -> None:
        while queue:
            await one(queue.pop())

    began, cpu_began = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    await asyncio.gather(*(client_task() for _ in range(clients)))
    if profile:
        profile.disable()
    return Timed(count, clients, time.perf_counter() - began, time.process_time() - cpu_began)


def print_run(timed: Timed) -> None:
    n = timed.requests
    print(f"{n} requests, {timed.clients} clients: {timed.elapsed:.2f} s,", end=" ")
    print(f"{timed.per_second:.0f}/s,")
    print(f"  {timed.wall_ms:.2f} ms per request (wall, one process)")
    print(f"  {timed.cpu_ms:.2f} ms of this process's CPU per request")


def print_counts(counts: collections.Counter[str], requests: int, *, indent: str = "  ") -> None:
    """Statements, commits and savepoints per request, then each statement kind's count."""
    for name in ("statements", "commits", "savepoints"):
        print(f"{indent}{name} per request: {counts[name] / requests:.2f}")
    for name, value in sorted(counts.items(), key=lambda x: -x[1]):
        if name.startswith("s: "):
            print(f"{indent}  {value / requests:5.2f}  {name[3:]}")


def print_cprofile(
    profile: cProfile.Profile, requests: int, *, dump: str, sort: str, top: int
) -> None:
    """CPU by package (ms per request), then pstats' top functions."""
    stats = pstats.Stats(profile)
    profile.dump_stats(dump)
    groups: collections.Counter[str] = collections.Counter()
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        part = filename.split("site-packages/")[-1].split("/src/")[-1]
        groups["/".join(part.split("/")[:2])] += tottime
    print("  CPU by package (ms per request):")
    for name, value in groups.most_common(25):
        print(f"    {value / requests * 1000:6.2f}  {name}")
    stats.sort_stats(sort).print_stats(top)
