"""``connection_lost``: the many ways a lost connection arrives, told apart from the rest."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from tongka.db.driver import DriverPoolExhausted
from tongka.db.errors import connection_lost
from tongka.ledger.errors import InsufficientFunds


def _wrapped(original: BaseException, *, invalidated: bool = False) -> DBAPIError:
    """As SQLAlchemy's asyncpg adapter raises it: the driver's error as ``orig``."""
    return DBAPIError("SELECT 1", {}, original, connection_invalidated=invalidated)


def _caused_by(cause: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("rollback failed") from cause
    except RuntimeError as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError("reset by peer"),
        ConnectionRefusedError("refused"),
        BrokenPipeError("broken pipe"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.ConnectionFailureError("failure"),
        asyncpg.InterfaceError("cannot call Transaction.rollback(): the connection is closed"),
        DisconnectionError("gone"),
        _wrapped(Exception("whatever"), invalidated=True),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _caused_by(ConnectionResetError("reset")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_lost_connection_is_recognised(error: BaseException) -> None:
    assert connection_lost(error)


@pytest.mark.parametrize(
    "error",
    [
        InsufficientFunds("no"),
        _wrapped(asyncpg.exceptions.SerializationError("could not serialize")),
        OperationalError("BEGIN", {}, Exception("database is locked")),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        DriverPoolExhausted("no driver connection came free"),
        TimeoutError("pool timeout"),
        ValueError("bad"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_everything_else_is_not_a_lost_connection(error: BaseException) -> None:
    assert not connection_lost(error)
