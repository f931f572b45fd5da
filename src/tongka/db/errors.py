"""What a unit of work's caller sees when the database, not the request, was the problem.

Two domain errors (``tongka.errors.ServiceUnavailable``: HTTP 503 at the edge), one per
thing a caller can do about it:

* ``OutcomeUnknown`` (``outcome_unknown``): the connection was lost (PostgreSQL restarted,
  the network was cut, the server killed the session) so the caller cannot know whether
  its transaction committed. Retrying with the same ids is safe: ledger postings are
  idempotent by transfer id, API requests by ``Idempotency-Key``. ``during_commit`` says
  which case it was: False means it certainly did not commit (it was lost before ``COMMIT``
  was sent), True that it may have.
* ``RetryLater`` (``retry_later``): the transaction kept losing a race (serialization
  failures, deadlocks, SQLite's busy database) through every attempt; nothing committed.

``connection_lost`` tells the many exception types a lost connection arrives as (asyncpg,
SQLAlchemy, the socket layer) apart from everything else.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import exc as sqlalchemy_errors

from tongka.errors import ServiceUnavailable

OUTCOME_UNKNOWN_MESSAGE = "outcome unknown: retry with the same ids"


class OutcomeUnknown(ServiceUnavailable):
    """The connection was lost; whether the unit of work committed is unknown (see module)."""

    code = "outcome_unknown"

    def __init__(self, message: str = OUTCOME_UNKNOWN_MESSAGE, *, during_commit: bool) -> None:
        super().__init__(message, details={"during_commit": during_commit})
        self.during_commit = during_commit


class RetryLater(ServiceUnavailable):
    """A retryable failure persisted through every attempt; nothing was committed."""

    code = "retry_later"

    def __init__(self, message: str = "the database is busy: retry later", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


# asyncpg's own errors for a connection that is gone or going: class 08 (connection
# exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now).
_LOST_SQLSTATES = {"57P01", "57P02", "57P03"}


def connection_lost(error: BaseException) -> bool:
    """True if ``error`` (or what it wraps) says the database connection was lost."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_lost_itself(current):
            return True
        wrapped = getattr(current, "orig", None)
        if not isinstance(wrapped, BaseException):
            wrapped = current.__cause__
            if wrapped is None and not current.__suppress_context__:
                wrapped = current.__context__  # e.g. a rollback that failed after the loss
        current = wrapped
    return False


def _is_lost_itself(error: BaseException) -> bool:
    if isinstance(error, sqlalchemy_errors.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sqlalchemy_errors.DisconnectionError):
        return True
    if isinstance(error, asyncpg.exceptions.PostgresConnectionError):  # class 08
        return True
    if isinstance(error, asyncpg.PostgresError):
        return getattr(error, "sqlstate", None) in _LOST_SQLSTATES
    if isinstance(error, asyncpg.InterfaceError):  # also raised for misuse: only these
        return "connection is closed" in str(error) or "connection was closed" in str(error)
    # the socket layer: reset, refused, broken pipe, ... (not a timeout waiting for a pool)
    return isinstance(error, ConnectionError)
