"""Concurrent reviews of one merchant on PostgreSQL: exactly one decision applies."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests.factories import DEFAULT_NOW, TEST_KEYS, registration
from tongka.db import Database
from tongka.events.models import Event
from tongka.identity import service as identity
from tongka.identity.errors import IllegalTransition
from tongka.identity.models import Merchant

pytestmark = pytest.mark.pg
ROUNDS = 5


async def _review(database: Database, merchant_id: str, decision: str) -> str | None:
    try:
        async with database.transaction() as session:
            await identity.review_merchant(
                session,
                merchant_id,
                decision,
                actor=f"test-{decision}",
                now=DEFAULT_NOW,
                reason="incomplete papers" if decision == "reject" else None,
            )
    except IllegalTransition:
        return None
    return decision


async def test_an_approval_and_a_rejection_racing_apply_only_one(pg_database: Database) -> None:
    for round_number in range(ROUNDS):
        # given a merchant waiting for review
        async with pg_database.transaction() as session:
            merchant, _ = await identity.register_merchant(
                session, TEST_KEYS, registration(f"竞态商户{round_number}有限公司"), now=DEFAULT_NOW
            )
        # when two reviewers decide at once, several times over
        decisions = ["approve", "reject"] * 3
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(_review(pg_database, merchant.id, d) for d in decisions)),
            timeout=60,
        )
        # then one decision applied, and the merchant and its events agree with it
        applied = [outcome for outcome in outcomes if outcome is not None]
        assert len(applied) == 1
        async with pg_database.transaction() as session:
            status = await session.scalar(select(Merchant.status).where(Merchant.id == merchant.id))
            reviews = await session.scalar(
                select(func.count())
                .select_from(Event)
                .where(
                    Event.object_id == merchant.id,
                    Event.type.in_(["merchant.approved", "merchant.rejected"]),
                )
            )
        assert status == ("active" if applied == ["approve"] else "rejected")
        assert reviews == 1
