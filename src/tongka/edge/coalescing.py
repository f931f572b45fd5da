"""Group commit for the hottest POST routes on PostgreSQL (redemptions, issue #12).

Why: one database transaction per request costs a pool check-out, ``BEGIN``, ``COMMIT``
(a WAL flush) and the check-in, and holds every row lock (card, balance shard) for as
long as the request's round trips take. Under a promotion day's load most of a request's
time is that overhead. A ``Coalescer`` runs the units of work of concurrent requests of
one process *in one shared transaction*, each in its own ``SAVEPOINT``, and commits them
together: one commit for a whole batch.

How a request takes part (``member``): marked routes (``@coalesced``) under a
``UnitOfWorkRoute`` get their ``SessionDep`` from here instead of a transaction of their
own. Authentication, the ``Idempotency-Key`` reservation, the handler and the stored
response all run in the member's savepoint, so effect and record still commit or roll
back together.

* Members of one batch run one after the other (one connection, one session); up to
  ``lanes`` batches run side by side on their own connections. A request joins a new
  batch while fewer than ``lanes`` are open, else the open one with the shortest queue:
  at light load every request is alone (no added latency), under load the queues grow
  and so do the batches ("while a batch is in flight, queue"). A batch takes at most
  ``max_members``.
* A batch commits as soon as nobody is queued on it. A member's success is answered only
  after that commit: a client never sees 200 for a change whose commit then failed.
  A failing commit reaches every member that succeeded, as it would have reached each
  alone (``OutcomeUnknown`` for a lost connection; a retryable error makes every
  ``UnitOfWorkRoute`` run its request again, whole).
* A member that raises is rolled back to its savepoint and answers its own error at once;
  the others keep their work. A retryable error (deadlock, serialization failure) also
  closes its batch, so the batch commits and lets go of its locks before the member runs
  again. A savepoint that cannot even be rolled back (connection lost) breaks the batch:
  its commit is not tried and every member gets that error.
* Lock waits are short in a batch (``LOCK_TIMEOUT``): a batch holds its rows until it
  commits, so a member waiting for a row another batch holds would stall its whole
  batch, and two batches each waiting for the other's row would stall until PostgreSQL's
  deadlock detection (a second). A member that waits longer is rolled back
  (``RunAlone``), its batch closed, and its request runs again *on its own transaction*
  (``UnitOfWorkRoute`` coalesces only a request's first attempt), waiting as long as any
  request would.

Exactly-once is the database's, as before: the idempotency record and the redemption key
are unique rows, and a duplicate in the *same* batch sees the first one's row (same
transaction) and replays it, as a duplicate after a commit would. Row locks are held
until the batch commits, so a batch is kept short (``max_members``).

SQLite keeps one transaction per request (one writer: nothing to gain).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from tongka.db import Database, OutcomeUnknown, connection_lost, is_retryable_error

log = structlog.get_logger(__name__)

# How long a member may wait for a row lock before it leaves the batch (see the module).
LOCK_TIMEOUT = "100ms"
LOCK_NOT_AVAILABLE = "55P03"

F = TypeVar("F", bound=Callable[..., Any])
COALESCED_ATTRIBUTE = "__tongka_coalesced__"


def coalesced(endpoint: F) -> F:
    """Mark a route's endpoint: on PostgreSQL its unit of work joins a shared transaction."""
    setattr(endpoint, COALESCED_ATTRIBUTE, True)
    return endpoint


def is_coalesced(endpoint: Callable[..., Any]) -> bool:
    return bool(getattr(endpoint, COALESCED_ATTRIBUTE, False))


class RunAlone(Exception):  # noqa: N818 - a signal to the route, not an error
    """A member waited too long for a lock in a shared transaction: nothing of it was done;
    its request runs again on a transaction of its own."""


def _lock_wait_too_long(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


def _copy_info(session: AsyncSession) -> dict[str, Any]:
    """What a session remembers about its transaction (``session.info``: e.g. the ledger
    accounts it opened), to put back when a member's savepoint is rolled back — the
    database forgets that member's work, so the session must too."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in session.info.items()}


class _Batch:
    """One shared transaction and the members queued on it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.lock = asyncio.Lock()  # one member at a time on the session
        self.queued = 0  # members waiting for the lock or holding it
        self.members = 0
        self.finishing = False
        self.broken: BaseException | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unit: AbstractAsyncContextManager[AsyncSession] | None = None
        self._session: AsyncSession | None = None

    async def session(self) -> AsyncSession:
        if self._session is None:
            unit = self.database.transaction()
            session = await unit.__aenter__()
            self._unit = unit
            self._session = session
            await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        return self._session

    async def finish(self) -> None:
        """Commit (or, broken, roll back) and tell the members how it went."""
        try:
            if self._unit is not None and self.broken is not None:
                broken = self.broken
                try:
                    await self._unit.__aexit__(type(broken), broken, broken.__traceback__)
                finally:
                    # rolled back for certain: every member may run again, alone
                    raise RunAlone() from broken
            if self._unit is not None:
                await self._unit.__aexit__(None, None, None)
        except BaseException as error:  # noqa: BLE001 - handed to every member
            log.info("coalescer.batch_failed", members=self.members, error=repr(error))
            self.done.set_exception(error)
            self.done.exception()  # retrieved: members that failed earlier never read it
        else:
            self.done.set_result(None)


class Coalescer:
    """The shared transactions of one process and one database (see the module)."""

    def __init__(self, database: Database, *, max_members: int = 32, lanes: int = 4) -> None:
        self.database = database
        self.max_members = max(1, max_members)
        self.lanes = max(1, lanes)
        self._open: list[_Batch] = []
        self._finishing: set[asyncio.Task[None]] = set()
        self.batches = 0  # shared transactions finished, and the most members one had
        self.largest_batch = 0

    def _join(self) -> _Batch:
        if len(self._open) < self.lanes:
            batch = _Batch(self.database)
            self._open.append(batch)
        else:
            batch = min(self._open, key=lambda b: b.queued)
        batch.queued += 1
        batch.members += 1
        if batch.members >= self.max_members:
            self._close(batch)
        return batch

    def _close(self, batch: _Batch) -> None:
        """No one joins ``batch`` any more; it commits when its queue is empty."""
        if batch in self._open:
            self._open.remove(batch)

    def _leave(self, batch: _Batch) -> None:
        batch.queued -= 1
        if batch.queued == 0 and not batch.finishing:
            batch.finishing = True
            self._close(batch)
            self.batches += 1
            self.largest_batch = max(self.largest_batch, batch.members)
            task = asyncio.get_running_loop().create_task(batch.finish())
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)

    @asynccontextmanager
    async def member(self) -> AsyncIterator[AsyncSession]:
        """A savepoint in a shared transaction; on success, wait for its commit."""
        batch = self._join()
        try:
            async with batch.lock:
                if batch.broken is not None:
                    # nothing of this member ran: as if its connection had been lost
                    raise OutcomeUnknown(during_commit=False) from batch.broken
                try:
                    session = await batch.session()
                    savepoint = await session.begin_nested()
                    info = _copy_info(session)
                except Exception as error:
                    batch.broken = error
                    self._close(batch)
                    if isinstance(error, OutcomeUnknown) or not connection_lost(error):
                        raise
                    raise OutcomeUnknown(during_commit=False) from error
                try:
                    yield session
                except BaseException as error:
                    await self._roll_back(batch, savepoint, error)
                    session.info.clear()
                    session.info.update(info)
                    if isinstance(error, Exception) and connection_lost(error):
                        raise OutcomeUnknown(during_commit=False) from error
                    if _lock_wait_too_long(error):
                        raise RunAlone() from error
                    raise
                try:
                    await savepoint.commit()
                except Exception as error:
                    batch.broken = error
                    if connection_lost(error):
                        raise OutcomeUnknown(during_commit=False) from error
                    raise
        finally:
            self._leave(batch)
        await asyncio.shield(batch.done)

    async def _roll_back(
        self, batch: _Batch, savepoint: AsyncSessionTransaction, error: BaseException
    ) -> None:
        """Undo one member's work; a retryable error also closes the batch (see module)."""
        if isinstance(error, Exception) and (
            is_retryable_error(error) or _lock_wait_too_long(error)
        ):
            self._close(batch)
        try:
            await savepoint.rollback()
        except BaseException as broken:  # noqa: BLE001 - the batch cannot go on
            batch.broken = broken
            self._close(batch)

    async def drain(self) -> None:
        """Wait for the batches being committed (shutdown, tests)."""
        while self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)


def coalescer_of(state: Any, database: Database, *, max_members: int, lanes: int) -> Coalescer:
    """The app's coalescer for its database, made on first use (one per process)."""
    existing: Coalescer | None = getattr(state, "coalescer", None)
    if existing is None or existing.database is not database:
        existing = Coalescer(database, max_members=max_members, lanes=lanes)
        state.coalescer = existing
    return existing
