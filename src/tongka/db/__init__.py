"""Database engine, the unit of work, retries and migrations.

Usage::

    database = Database.from_settings(settings)
    async with database.transaction() as session:   # commits on success
        ...
    result = await database.run(lambda session: service.do(session, ...))  # retried on 40001
"""

from tongka.db.base import Base, metadata
from tongka.db.engine import Database, UnitOfWork, is_retryable_error

__all__ = ["Base", "Database", "UnitOfWork", "is_retryable_error", "metadata"]
