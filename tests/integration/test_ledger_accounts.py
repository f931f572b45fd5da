"""Opening many accounts at once (``open_accounts``): the same contract as one by one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.ledger_support import card_spec, funding_spec, merchant_spec
from tests.ledger_support import open_accounts as open_one_by_one
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import AccountSpec, get_balance, open_accounts
from tongka.ledger import accounts as ledger_accounts
from tongka.ledger.errors import AccountConflict, AccountNotFound, InvalidTransfer
from tongka.ledger.models import LedgerAccount, LedgerBalance


def mixed_specs(prefix: str) -> list[AccountSpec]:
    """Cards in two currencies, a hot (sharded) merchant account, an asset account."""
    return [
        card_spec(f"{prefix}card-1"),
        card_spec(f"{prefix}card-2", currency="USD"),
        merchant_spec(f"{prefix}merchant", hot=True),
        funding_spec(f"{prefix}funding", currency="EUR"),
        card_spec(f"{prefix}card-3"),
    ]


async def open_in_bulk(database: Database, specs: list[AccountSpec], *, now: datetime) -> None:
    async with database.transaction() as session:
        await open_accounts(session, specs, now=now)


async def stored_rows(database: Database, prefix: str) -> dict[str, list[tuple[Any, ...]]]:
    """Accounts and balance shards under ``prefix``, with the prefix taken off their ids."""
    async with database.transaction() as session:
        accounts = await session.scalars(
            select(LedgerAccount).where(LedgerAccount.id.startswith(prefix))
        )
        shards = await session.scalars(
            select(LedgerBalance).where(LedgerBalance.account_id.startswith(prefix))
        )
        return {
            "accounts": sorted(
                (
                    row.id.removeprefix(prefix),
                    row.currency,
                    row.type,
                    row.code,
                    row.owner_type,
                    row.owner_id,
                    row.debits_must_not_exceed_credits,
                    row.credits_must_not_exceed_debits,
                    row.hot,
                    row.shard_count,
                    row.created_at,
                )
                for row in accounts
            ),
            "shards": sorted(
                (
                    row.account_id.removeprefix(prefix),
                    row.shard,
                    row.debits_posted,
                    row.credits_posted,
                    row.debits_pending,
                    row.credits_pending,
                )
                for row in shards
            ),
        }


@pytest.fixture
def small_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few rows per statement, so that a handful of accounts spans several chunks."""
    monkeypatch.setattr(ledger_accounts, "_PARAMETERS_PER_STATEMENT", 25)


@pytest.mark.usefixtures("small_statements")
async def test_opening_in_bulk_writes_what_opening_one_by_one_writes(
    database: Database, clock: FixedClock
) -> None:
    # when
    await open_one_by_one(database, *mixed_specs("one:"), now=clock.now())
    await open_in_bulk(database, mixed_specs("bulk:"), now=clock.now())
    # then
    by_one = await stored_rows(database, "one:")
    in_bulk = await stored_rows(database, "bulk:")
    assert in_bulk == by_one
    assert len(in_bulk["accounts"]) == 5
    assert len(in_bulk["shards"]) == 4 + ledger_accounts.HOT_SHARD_COUNT
    async with database.transaction() as session:
        balance = await get_balance(session, "bulk:card-2")
    assert (balance.currency, balance.posted, balance.available) == ("USD", 0, 0)


@pytest.mark.usefixtures("small_statements")
async def test_opening_in_bulk_again_changes_nothing(database: Database, clock: FixedClock) -> None:
    # given some of the accounts already open, one by one
    specs = mixed_specs("")
    await open_one_by_one(database, specs[0], specs[2], now=clock.now())
    # when all are opened in bulk, twice, later (and one spec twice in the same call)
    clock.advance(timedelta(seconds=60))
    await open_in_bulk(database, [*specs, specs[1]], now=clock.now())
    first = await stored_rows(database, "")
    await open_in_bulk(database, specs, now=clock.now())
    # then
    assert await stored_rows(database, "") == first
    created_at = {row[0]: row[-1] for row in first["accounts"]}
    assert created_at["card-1"] < created_at["card-2"]  # the first opening stays
    assert len(first["accounts"]) == 5


@pytest.mark.parametrize(
    "conflicting",
    [card_spec("card-2", currency="USD"), merchant_spec("card-2")],
    ids=["currency", "type"],
)
@pytest.mark.usefixtures("small_statements")
async def test_a_conflict_in_the_middle_of_a_bulk_writes_nothing(
    database: Database, clock: FixedClock, conflicting: AccountSpec
) -> None:
    # given
    await open_one_by_one(database, card_spec("card-2"), now=clock.now())
    before = await stored_rows(database, "")
    specs = [card_spec("card-1"), conflicting, merchant_spec("merchant", hot=True)]
    async with database.transaction() as session:
        # when
        with pytest.raises(AccountConflict) as refused:
            await open_accounts(session, specs, now=clock.now())
        # then: nothing was written, even in the refused call's own transaction
        assert refused.value.code == "account_conflict"
        assert "card-2" in refused.value.message
        other = await session.scalar(select(LedgerAccount.id).where(LedgerAccount.id != "card-2"))
        assert other is None
    assert await stored_rows(database, "") == before


async def test_the_same_id_twice_with_different_specs_is_refused(
    database: Database, clock: FixedClock
) -> None:
    specs = [card_spec("card-1"), card_spec("card-2"), card_spec("card-1", currency="USD")]
    with pytest.raises(AccountConflict):
        await open_in_bulk(database, specs, now=clock.now())
    assert await stored_rows(database, "") == {"accounts": [], "shards": []}


async def test_an_invalid_spec_refuses_the_whole_bulk(
    database: Database, clock: FixedClock
) -> None:
    specs = [card_spec("card-1"), card_spec("x" * 200)]
    with pytest.raises(InvalidTransfer) as refused:
        await open_in_bulk(database, specs, now=clock.now())
    assert refused.value.code == "invalid_account"
    assert await stored_rows(database, "") == {"accounts": [], "shards": []}


async def open_then_roll_back(database: Database, spec: AccountSpec, *, now: datetime) -> None:
    async with database.transaction() as session:
        await open_accounts(session, [spec], now=now)
        assert (await get_balance(session, spec.account_id)).posted == 0  # seen in its session
        raise RuntimeError("roll back")


async def test_accounts_opened_in_a_rolled_back_bulk_are_not_believed_later(
    database: Database, clock: FixedClock
) -> None:
    # given a bulk opening whose transaction is rolled back
    with pytest.raises(RuntimeError):
        await open_then_roll_back(database, card_spec("card-1"), now=clock.now())
    # then another session does not find it (no process-wide cache entry)
    async with database.transaction() as session:
        with pytest.raises(AccountNotFound):
            await get_balance(session, "card-1")


async def test_opening_in_bulk_on_a_core_connection_writes_the_same(
    database: Database, clock: FixedClock
) -> None:
    # given the hot paths' unit of work: a Core connection rather than an ORM session
    await open_one_by_one(database, *mixed_specs("one:"), now=clock.now())
    # when
    async with database.connection_transaction() as connection:
        await open_accounts(connection, mixed_specs("conn:"), now=clock.now())
        # then accounts opened in this transaction are usable in it at once
        balance = await get_balance(connection, "conn:merchant")
    assert balance.posted == 0
    assert await stored_rows(database, "conn:") == await stored_rows(database, "one:")
