"""Database engine, the unit of work, retries and migrations.

Usage::

    database = Database.from_settings(settings)
    async with database.transaction() as session:   # commits on success
        ...
    result = await database.run(lambda session: service.do(session, ...))  # retried on 40001
    await database.run_driver(lambda unit: post_transfers(unit, [...], now=now))  # hot path
"""

from tongka.db.base import Base, metadata
from tongka.db.driver import DriverConnection
from tongka.db.engine import Database, is_retryable_error
from tongka.db.statements import AnyUnitOfWork, UnitOfWork

__all__ = [
    "AnyUnitOfWork",
    "Base",
    "Database",
    "DriverConnection",
    "UnitOfWork",
    "is_retryable_error",
    "metadata",
]
