"""A console form that must act once however often it is sent (a double tap on 购卡).

The page puts a fresh token in the form (``new_token``); the POST claims it for the caller
(``form_claims``) *in the same savepoint* as the work, and records the object the work made
(an order id). A second submit of the same form finds the claim and answers that object
instead of acting again; a failed attempt rolls its claim back with its effect, so the
corrected form may be sent again with the same token.

Concurrency: the claim is an ``INSERT ... ON CONFLICT DO NOTHING`` on the primary key, so
PostgreSQL makes a twin wait until the first commits and then read the winner's object;
SQLite has one writer. A caller's claims older than a day are deleted as it claims anew, and
the worker's ``forms.purge_claims`` deletes those of callers who never come back.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.models import FormClaim
from tongka.ids import new_id

RETENTION = timedelta(days=1)
MAX_TOKEN = 120
PURGE_BATCH = 5000


def new_token() -> str:
    return new_id("frm")


def _key(actor: str, token: str) -> str:
    return hashlib.sha256(f"{actor}\n{token.strip()[:MAX_TOKEN]}".encode()).hexdigest()


async def claim(session: AsyncSession, *, actor: str, token: str, now: datetime) -> str | None:
    """Claim ``token`` for ``actor``: ``None`` when it is new (act now, then ``record``);
    the id of what its first submit made otherwise (``""``: that one is still running)."""
    await session.execute(
        delete(FormClaim).where(FormClaim.actor == actor, FormClaim.created_at < now - RETENTION)
    )
    key = _key(actor, token)
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(FormClaim).values(key=key, actor=actor[:80], created_at=now).on_conflict_do_nothing()
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return None
    made = await session.scalar(
        select(FormClaim.object_id)
        .where(FormClaim.key == key)
        .execution_options(populate_existing=True)
    )
    return made or ""


async def record(session: AsyncSession, *, actor: str, token: str, object_id: str) -> None:
    """Keep what the claimed submit made (an id: no secret)."""
    await session.execute(
        update(FormClaim).where(FormClaim.key == _key(actor, token)).values(object_id=object_id)
    )


async def purge_claims(database: Database, clock: Clock, settings: Settings) -> int:
    """Worker job: delete claims older than a day, a batch per run. A claim only matters
    while its form may still be sent twice; kept longer it is just a row per submit."""
    expired = (
        select(FormClaim.key)
        .where(FormClaim.created_at < clock.now() - RETENTION)
        .limit(PURGE_BATCH)
        .scalar_subquery()
    )
    async with database.transaction() as session:
        result = await session.execute(delete(FormClaim).where(FormClaim.key.in_(expired)))
    return int(result.rowcount)  # type: ignore[attr-defined]
