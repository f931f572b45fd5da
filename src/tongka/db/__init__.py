"""Database engine, the unit of work, retries and migrations.

Usage::

    database = Database.from_settings(settings)
    async with database.transaction() as session:   # commits on success
        ...
    result = await database.run(lambda session: service.do(session, ...))  # retried on 40001
    await database.run_driver(  # hot path; its transfer ids make a re-run after a lost commit safe
        lambda unit: post_transfers(unit, [...], now=now), idempotent=True
    )

A lost connection leaves a unit of work as ``OutcomeUnknown``; races that outlast every
attempt of ``run*`` as ``RetryLater`` (both in ``tongka.db.errors``, HTTP 503).
"""

from tongka.db.base import Base, metadata
from tongka.db.driver import DriverConnection
from tongka.db.engine import Database, is_retryable_error
from tongka.db.errors import OutcomeUnknown, RetryLater, connection_lost
from tongka.db.statements import AnyUnitOfWork, UnitOfWork

__all__ = [
    "AnyUnitOfWork",
    "Base",
    "Database",
    "DriverConnection",
    "OutcomeUnknown",
    "RetryLater",
    "UnitOfWork",
    "connection_lost",
    "is_retryable_error",
    "metadata",
]
