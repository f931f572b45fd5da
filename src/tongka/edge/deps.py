"""Dependencies every router shares: the database, a transaction, the clock, settings; and
``UnitOfWorkRoute``, which runs a request's unit of work again when the database asks to.

A request's unit of work is its whole handler, with every dependency, in one transaction
(``SessionDep``), committed before the response is sent. Under a ``UnitOfWorkRoute`` (the
route class of every router that takes a session) that unit is run again, from scratch, on
a fresh transaction, when it failed in a way that left nothing committed:

* a serialization failure (40001), a deadlock (40P01) or SQLite's busy database: the
  database rolled the transaction back;
* a connection lost before the commit was sent (``OutcomeUnknown(during_commit=False)``):
  a transaction whose connection is gone can only roll back.

Both are safe to re-run because nothing of the first attempt survives: its writes (an
``Idempotency-Key`` reservation and the response stored with it included) rolled back with
its transaction, ``request.state`` is put back as it was before the attempt, and side
effects happen only through the outbox, after commit. At most ``REQUEST_ATTEMPTS``
attempts; then the client gets 503 ``retry_later``. A connection lost *during* the commit
is not retried (it may have committed): 503 ``outcome_unknown``, and the client retries
with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database, OutcomeUnknown, RetryLater, is_retryable_error
from tongka.edge.coalescing import RunAlone, coalescer_of, is_coalesced

log = structlog.get_logger(__name__)

REQUEST_ATTEMPTS = 4
_ATTEMPT_STATE = "unit_of_work_attempt"
_OPENER_STATE = "unit_of_work_opener"
UnitOpener = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def database_of(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


# The dependencies are coroutines, though they only read the app's state: FastAPI runs a
# plain ``def`` dependency in its thread pool, a hand-off per dependency per request that
# cost the hottest routes more than their reading does (issue #12, "Speed").
async def get_database(request: Request) -> Database:
    return database_of(request)


async def get_settings_dep(request: Request) -> Settings:
    return settings_of(request)


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed when the handler returns normally.

    Under a ``UnitOfWorkRoute`` the transaction belongs to the current attempt, which
    commits it (or rolls it back) when the handler is done, before the response is sent.
    Elsewhere it is declared with ``scope="function"`` below for the same reason: a client
    must never see 200 for a change whose commit then failed.
    """
    attempt: AsyncExitStack | None = getattr(request.state, _ATTEMPT_STATE, None)
    if attempt is not None:
        opener = getattr(request.state, _OPENER_STATE, None) or database_of(request).transaction
        yield await attempt.enter_async_context(opener())
        return
    async with database_of(request).transaction() as session:
        yield session


def _worth_another_attempt(error: Exception) -> bool:
    """Did the attempt fail in a way that certainly committed nothing (see the module)?"""
    if isinstance(error, OutcomeUnknown):
        return not error.during_commit
    return isinstance(error, RunAlone) or is_retryable_error(error)


class UnitOfWorkRoute(APIRoute):
    """A route whose unit of work is re-run on a fresh transaction (see the module).

    Subclasses that act inside the request's transaction (storing the response with its
    ``Idempotency-Key``, answering domain errors with a page) override
    ``get_unit_of_work_handler``, not ``get_route_handler``.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = self.get_unit_of_work_handler()

        async def unit_of_work_handler(request: Request) -> Response:
            state = request.scope.setdefault("state", {})
            before = dict(state)
            opener = self.unit_of_work_opener(request)
            for attempt in range(1, REQUEST_ATTEMPTS + 1):
                state.clear()
                state.update(before)
                try:
                    async with AsyncExitStack() as transaction:
                        state[_ATTEMPT_STATE] = transaction
                        if opener is not None and attempt == 1:
                            state[_OPENER_STATE] = opener  # a retry runs alone
                        response = await handler(request)
                    return response
                except Exception as error:
                    if not _worth_another_attempt(error):
                        raise
                    if attempt == REQUEST_ATTEMPTS:
                        if isinstance(error, OutcomeUnknown):
                            raise
                        raise RetryLater(
                            "the request lost a race with concurrent ones "
                            f"{REQUEST_ATTEMPTS} times; nothing was done: retry it"
                        ) from error
                    log.info("api.retry", path=request.url.path, attempt=attempt, error=repr(error))
                    await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
                finally:
                    state.pop(_ATTEMPT_STATE, None)
                    state.pop(_OPENER_STATE, None)
            raise AssertionError("unreachable")

        return unit_of_work_handler

    def get_unit_of_work_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """What runs inside one attempt's transaction: FastAPI's handler, by default."""
        return super().get_route_handler()

    def unit_of_work_opener(self, request: Request) -> UnitOpener | None:
        """Where an attempt's ``SessionDep`` comes from: a transaction of its own
        (``None``) or, for an endpoint marked ``@coalesced`` on PostgreSQL, a savepoint in
        a transaction shared with concurrent requests (``tongka.edge.coalescing``)."""
        if not is_coalesced(self.endpoint):
            return None
        database = database_of(request)
        settings = settings_of(request)
        if database.dialect != "postgresql" or settings.coalesce_max_members <= 1:
            return None
        coalescer = coalescer_of(
            request.app.state,
            database,
            max_members=settings.coalesce_max_members,
            lanes=settings.coalesce_lanes,
        )
        return coalescer.member


DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
