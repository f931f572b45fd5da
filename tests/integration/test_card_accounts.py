"""The gate's posting of independent transfers (batch funding): all or nothing."""

from __future__ import annotations

import pytest

from tests.ledger_support import (
    balance_of,
    card_spec,
    fund,
    open_accounts,
    transfer,
    transfer_count,
)
from tongka.cards import money_gate
from tongka.cards.money_gate import _post_independent as post_many
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger.errors import InsufficientFunds


async def three_cards(
    database: Database,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    *,
    chunk: int,
    funded: int,
) -> None:
    """Cards a, b, c (only a holds money), and post_many's chunk size."""
    monkeypatch.setattr(money_gate, "POST_CHUNK", chunk)
    await open_accounts(database, card_spec("a"), card_spec("b"), card_spec("c"), now=clock.now())
    await fund(database, "a", funded, now=clock.now())


@pytest.mark.parametrize("chunk", [1, 5_000])
async def test_post_many_posts_every_transfer(
    database: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    await three_cards(database, clock, monkeypatch, chunk=chunk, funded=300)
    async with database.transaction() as session:
        posted = await post_many(
            session,
            [transfer("t1", "a", "b", 100), transfer("t2", "a", "c", 200)],
            now=clock.now(),
        )
    assert [t.transfer_id for t in posted] == ["t1", "t2"]
    assert [(await balance_of(database, a)).posted for a in "abc"] == [0, 100, 200]


@pytest.mark.parametrize("chunk", [1, 2, 5_000])
async def test_post_many_refused_in_the_middle_writes_nothing(
    database: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    await three_cards(database, clock, monkeypatch, chunk=chunk, funded=100)
    transfers_before = await transfer_count(database)
    async with database.transaction() as session:
        with pytest.raises(InsufficientFunds):
            await post_many(
                session,
                [
                    transfer("t1", "a", "b", 100),
                    transfer("t2", "c", "b", 1),  # c is empty
                    transfer("t3", "b", "c", 50),
                ],
                now=clock.now(),
            )
        assert await transfer_count(session) == transfers_before  # even in its transaction
    assert [(await balance_of(database, a)).posted for a in "abc"] == [100, 0, 0]
