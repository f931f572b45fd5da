"""``edge.form_once``: a form's token is claimed once per caller; a second submit reads what
the first made; a rolled-back attempt leaves no claim; on PostgreSQL a concurrent twin waits
for the first and reads its object (never acts twice)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge import form_once
from tongka.worker import JOBS

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


async def test_a_token_is_claimed_once_and_answers_what_it_made(database: Database) -> None:
    token = form_once.new_token()
    async with database.transaction() as session:
        assert await form_once.claim(session, actor="consumer:a", token=token, now=NOW) is None
        await form_once.record(session, actor="consumer:a", token=token, object_id="ord_1")
    async with database.transaction() as session:
        assert await form_once.claim(session, actor="consumer:a", token=token, now=NOW) == "ord_1"
        # another caller's token of the same text is its own
        assert await form_once.claim(session, actor="consumer:b", token=token, now=NOW) is None


async def test_a_failed_attempt_leaves_no_claim_and_old_claims_go(database: Database) -> None:
    token = form_once.new_token()
    async with database.transaction() as session:
        async with session.begin_nested() as attempt:
            await form_once.claim(session, actor="consumer:a", token=token, now=NOW)
            await attempt.rollback()
        assert await form_once.claim(session, actor="consumer:a", token=token, now=NOW) is None
    later = NOW + form_once.RETENTION + timedelta(seconds=1)
    async with database.transaction() as session:
        assert await form_once.claim(session, actor="consumer:a", token=token, now=later) is None


async def test_the_purge_job_deletes_claims_older_than_a_day_only(
    database: Database, settings: Settings
) -> None:
    async with database.transaction() as session:
        await form_once.claim(session, actor="consumer:gone", token="old", now=NOW)
        await form_once.claim(
            session, actor="consumer:a", token="new", now=NOW + form_once.RETENTION
        )
    later = FixedClock(NOW + form_once.RETENTION + timedelta(seconds=1))
    assert await form_once.purge_claims(database, later, settings) == 1
    assert await form_once.purge_claims(database, later, settings) == 0
    async with database.transaction() as session:
        # the young claim still answers: its form is still sent once
        made = await form_once.claim(session, actor="consumer:a", token="new", now=later.now())
        assert made == ""
    assert any(job.name == "forms.purge_claims" for job in JOBS)


@pytest.mark.pg
async def test_a_concurrent_twin_waits_and_reads_the_first_ones_object(
    pg_database: Database,
) -> None:
    token = form_once.new_token()
    claimed = asyncio.Event()

    async def first() -> str | None:
        async with pg_database.transaction() as session:
            made = await form_once.claim(session, actor="consumer:a", token=token, now=NOW)
            claimed.set()
            await asyncio.sleep(0.3)  # the twin is blocked on the key meanwhile
            await form_once.record(session, actor="consumer:a", token=token, object_id="ord_1")
            return made

    async def twin() -> str | None:
        await claimed.wait()
        async with pg_database.transaction() as session:
            return await form_once.claim(session, actor="consumer:a", token=token, now=NOW)

    assert await asyncio.gather(first(), twin()) == [None, "ord_1"]
