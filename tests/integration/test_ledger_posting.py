"""Posting transfers, atomic groups, idempotency, limits, hot accounts, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests.ledger_support import (
    balance_of,
    card_spec,
    fund,
    funding_spec,
    merchant_spec,
    open_accounts,
    transfer,
    transfer_count,
)
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.errors import DomainError
from tongka.ledger import (
    AccountCode,
    AccountSpec,
    AccountType,
    TransferKind,
    get_transfer,
    list_transfers,
    open_account,
    post_transfers,
)
from tongka.ledger.accounts import HOT_SHARD_COUNT
from tongka.ledger.errors import (
    AccountConflict,
    AccountNotFound,
    CreditLimitExceeded,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    SameAccount,
    TransferNotFound,
)
from tongka.ledger.models import LedgerBalance

pytestmark = pytest.mark.usefixtures("books_balance")


async def test_open_account_is_idempotent_and_immutable(
    database: Database, clock: FixedClock
) -> None:
    # given
    await open_accounts(database, card_spec("card-1"), now=clock.now())
    # when opened again with the same spec: nothing changes
    await open_accounts(database, card_spec("card-1"), now=clock.now())
    # then a different spec for the same id is refused
    with pytest.raises(AccountConflict) as refused:
        await open_accounts(database, card_spec("card-1", currency="USD"), now=clock.now())
    assert refused.value.code == "account_conflict"
    balance = await balance_of(database, "card-1")
    assert (balance.currency, balance.posted, balance.available) == ("CNY", 0, 0)


async def test_a_transfer_moves_money_and_appears_in_both_histories(
    database: Database, clock: FixedClock
) -> None:
    await open_accounts(database, card_spec("card-1"), merchant_spec("merchant-1"), now=clock.now())
    await fund(database, "card-1", 10_000, now=clock.now())

    async with database.transaction() as session:
        [posted] = await post_transfers(
            session,
            [transfer("redeem-1", "card-1", "merchant-1", 2_500, reference="order-9")],
            now=clock.now(),
        )

    assert posted.kind is TransferKind.SINGLE
    assert (posted.amount, posted.reference, posted.created_at) == (2_500, "order-9", clock.now())
    card = await balance_of(database, "card-1")
    merchant = await balance_of(database, "merchant-1")
    assert (card.debits_posted, card.credits_posted, card.available) == (2_500, 10_000, 7_500)
    assert (merchant.credits_posted, merchant.posted) == (2_500, 2_500)
    async with database.transaction() as session:
        card_history = await list_transfers(session, "card-1")
        merchant_history = await list_transfers(session, "merchant-1")
        assert await get_transfer(session, "redeem-1") == posted
    assert [t.transfer_id for t in card_history] == ["fund-card-1-10000", "redeem-1"]
    assert [t.transfer_id for t in merchant_history] == ["redeem-1"]


async def test_replay_returns_the_original_and_different_content_is_refused(
    database: Database, clock: FixedClock
) -> None:
    await open_accounts(database, card_spec("card-1"), merchant_spec("merchant-1"), now=clock.now())
    await fund(database, "card-1", 1_000, now=clock.now())
    request = transfer("redeem-1", "card-1", "merchant-1", 300, metadata={"till": 4})
    async with database.transaction() as session:
        [original] = await post_transfers(session, [request], now=clock.now())
    clock.advance(timedelta(minutes=5))

    async with database.transaction() as session:
        [replayed] = await post_transfers(session, [request], now=clock.now())
    with pytest.raises(IdempotencyConflict):
        async with database.transaction() as session:
            await post_transfers(
                session, [transfer("redeem-1", "card-1", "merchant-1", 301)], now=clock.now()
            )

    assert replayed == original
    assert await transfer_count(database) == 2
    assert (await balance_of(database, "card-1")).available == 700


async def test_a_group_naming_an_id_posted_elsewhere_names_that_id(
    database: Database, clock: FixedClock
) -> None:
    # given: "fee" was posted on its own
    await open_accounts(database, card_spec("card-1"), merchant_spec("merchant-1"), now=clock.now())
    await fund(database, "card-1", 1_000, now=clock.now())
    fee = transfer("fee", "card-1", "merchant-1", 1)
    async with database.transaction() as session:
        await post_transfers(session, [fee], now=clock.now())
    # when: a group repeats it next to a new transfer
    with pytest.raises(IdempotencyConflict) as refused:
        async with database.transaction() as session:
            await post_transfers(
                session, [transfer("pay", "card-1", "merchant-1", 100), fee], now=clock.now()
            )
    # then: the error names "fee", the id that was taken, and nothing was written
    assert refused.value.details["transfer_id"] == "fee"
    assert "transfer id fee " in refused.value.message
    assert await transfer_count(database) == 2
    assert (await balance_of(database, "card-1")).available == 999


async def test_over_the_limit_is_refused_and_writes_nothing_even_if_the_caller_commits(
    database: Database, clock: FixedClock
) -> None:
    await open_accounts(database, card_spec("card-1"), merchant_spec("merchant-1"), now=clock.now())
    await fund(database, "card-1", 1_000, now=clock.now())

    async with database.transaction() as session:  # the caller goes on and commits
        with pytest.raises(InsufficientFunds) as refused:
            await post_transfers(
                session, [transfer("redeem-1", "card-1", "merchant-1", 1_001)], now=clock.now()
            )

    assert refused.value.code == "insufficient_funds"
    assert "card-1 has 1000 CNY" in refused.value.message
    assert await transfer_count(database) == 1
    assert (await balance_of(database, "card-1")).available == 1_000
    assert (await balance_of(database, "merchant-1")).credits_posted == 0


async def test_spending_exactly_the_balance_is_allowed(
    database: Database, clock: FixedClock
) -> None:
    await open_accounts(database, card_spec("card-1"), merchant_spec("merchant-1"), now=clock.now())
    await fund(database, "card-1", 1_000, now=clock.now())
    async with database.transaction() as session:
        await post_transfers(
            session, [transfer("redeem-1", "card-1", "merchant-1", 1_000)], now=clock.now()
        )
    assert (await balance_of(database, "card-1")).available == 0


@pytest.mark.parametrize(
    ("request_", "error", "code"),
    [
        pytest.param(
            transfer("t", "card-1", "nowhere", 10),
            AccountNotFound,
            "account_not_found",
            id="unknown",
        ),
        pytest.param(
            transfer("t", "card-1", "usd-merchant", 10),
            CurrencyMismatch,
            "currency_mismatch",
            id="currency-mismatch",
        ),
        pytest.param(
            transfer("t", "card-1", "merchant-1", 10, currency="USD"),
            CurrencyMismatch,
            "currency_mismatch",
            id="transfer-currency",
        ),
        pytest.param(
            transfer("t", "card-1", "merchant-1", 0), InvalidAmount, "invalid_amount", id="zero"
        ),
        pytest.param(
            transfer("t", "card-1", "merchant-1", -5),
            InvalidAmount,
            "invalid_amount",
            id="negative",
        ),
        pytest.param(
            transfer("t", "card-1", "merchant-1", 1.5), InvalidAmount, "invalid_amount", id="float"
        ),
        pytest.param(transfer("t", "card-1", "card-1", 5), SameAccount, "same_account", id="same"),
    ],
)
async def test_bad_input_is_a_typed_error_and_writes_nothing(
    database: Database,
    clock: FixedClock,
    request_: object,
    error: type[DomainError],
    code: str,
) -> None:
    await open_accounts(
        database,
        card_spec("card-1"),
        merchant_spec("merchant-1"),
        merchant_spec("usd-merchant", currency="USD"),
        now=clock.now(),
    )
    await fund(database, "card-1", 1_000, now=clock.now())

    with pytest.raises(error) as refused:
        async with database.transaction() as session:
            await post_transfers(session, [request_], now=clock.now())  # type: ignore[list-item]

    assert refused.value.code == code
    assert refused.value.message
    assert await transfer_count(database) == 1


async def test_a_group_is_all_or_nothing(database: Database, clock: FixedClock) -> None:
    await open_accounts(
        database, card_spec("card-1"), card_spec("card-2"), merchant_spec("m"), now=clock.now()
    )
    await fund(database, "card-1", 500, now=clock.now())

    async with database.transaction() as session:
        with pytest.raises(InsufficientFunds) as refused:
            await post_transfers(
                session,
                [
                    transfer("ok-part", "card-1", "m", 100),
                    transfer("too-much", "card-2", "m", 1),
                ],
                now=clock.now(),
            )
        assert "too-much" in refused.value.message
        with pytest.raises(TransferNotFound):
            await get_transfer(session, "ok-part")

    assert (await balance_of(database, "card-1")).available == 500
    assert (await balance_of(database, "m")).credits_posted == 0


async def test_a_group_may_pass_money_through_an_empty_account(
    database: Database, clock: FixedClock
) -> None:
    # A refund lands on card-2 and is spent in the same group: the limit holds at the end.
    await open_accounts(database, card_spec("card-2"), merchant_spec("m"), now=clock.now())
    await fund(database, "m", 0 + 1, now=clock.now(), transfer_id="seed")
    async with database.transaction() as session:
        await open_account(session, funding_spec(), now=clock.now())
        await post_transfers(
            session,
            [
                transfer("spend", "card-2", "m", 50),
                transfer("load", "funding", "card-2", 80),
            ],
            now=clock.now(),
        )
    assert (await balance_of(database, "card-2")).available == 30


async def test_credit_limit_is_enforced(database: Database, clock: FixedClock) -> None:
    # An account whose credits must not exceed its debits, e.g. an issuer's quota memo.
    quota = AccountSpec(
        account_id="quota",
        currency="CNY",
        type=AccountType.ASSET,
        code=AccountCode.ISSUER_QUOTA,
        credits_must_not_exceed_debits=True,
    )
    await open_accounts(database, quota, funding_spec(), now=clock.now())
    async with database.transaction() as session:
        await post_transfers(session, [transfer("grant", "quota", "funding", 100)], now=clock.now())
    with pytest.raises(CreditLimitExceeded) as refused:
        async with database.transaction() as session:
            await post_transfers(
                session, [transfer("use", "funding", "quota", 101)], now=clock.now()
            )
    assert refused.value.code == "credit_limit_exceeded"
    async with database.transaction() as session:
        await post_transfers(session, [transfer("use", "funding", "quota", 100)], now=clock.now())
    assert (await balance_of(database, "quota")).posted == 0


async def test_a_hot_account_is_striped_over_shards_and_reads_exactly(
    database: Database, clock: FixedClock
) -> None:
    hot_limited = AccountSpec(
        account_id="fee-income",
        currency="CNY",
        type=AccountType.LIABILITY,
        code=AccountCode.MERCHANT_PAYABLE,
        hot=True,
        debits_must_not_exceed_credits=True,
    )
    await open_accounts(database, hot_limited, merchant_spec("payout"), now=clock.now())
    async with database.transaction() as session:
        await open_account(session, funding_spec(), now=clock.now())
        for number in range(40):
            await post_transfers(
                session, [transfer(f"fee-{number}", "funding", "fee-income", 10)], now=clock.now()
            )

    async with database.transaction() as session:
        shards = (
            await session.scalars(
                select(LedgerBalance.credits_posted).where(LedgerBalance.account_id == "fee-income")
            )
        ).all()
        with pytest.raises(InsufficientFunds):
            await post_transfers(
                session, [transfer("payout-too-much", "fee-income", "payout", 401)], now=clock.now()
            )
        await post_transfers(
            session, [transfer("payout", "fee-income", "payout", 400)], now=clock.now()
        )

    assert len(shards) == HOT_SHARD_COUNT
    assert sum(shards) == 400
    balance = await balance_of(database, "fee-income")
    assert (balance.credits_posted, balance.debits_posted, balance.available) == (400, 400, 0)


async def test_history_pages_in_order(database: Database, clock: FixedClock) -> None:
    await open_accounts(database, merchant_spec("m"), funding_spec(), now=clock.now())
    async with database.transaction() as session:
        for number in range(7):
            await post_transfers(
                session, [transfer(f"t{number}", "funding", "m", 1)], now=clock.now()
            )

    pages = []
    after = None
    async with database.transaction() as session:
        while page := await list_transfers(session, "m", limit=3, after_sequence=after):
            pages.append([t.transfer_id for t in page])
            after = page[-1].sequence
        with pytest.raises(AccountNotFound):
            await list_transfers(session, "nobody")

    assert pages == [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]]


async def test_an_account_that_vanished_behind_the_cache_is_reported_missing(
    database: Database, clock: FixedClock
) -> None:
    # given card-1 is cached, then removed behind the ledger's back (as a test harness that
    # rolls back committed work would)
    await open_accounts(database, card_spec("card-1"), merchant_spec("m"), now=clock.now())
    assert (await balance_of(database, "card-1")).available == 0  # now cached
    async with database.transaction() as session:
        await session.execute(text("DELETE FROM ledger_balances WHERE account_id = 'card-1'"))
        await session.execute(text("DELETE FROM ledger_accounts WHERE id = 'card-1'"))

    with pytest.raises(AccountNotFound):
        async with database.transaction() as session:
            await post_transfers(session, [transfer("t", "card-1", "m", 5)], now=clock.now())
    with pytest.raises(AccountNotFound):  # and the cache no longer believes in it
        async with database.transaction() as session:
            await post_transfers(session, [transfer("t", "card-1", "m", 5)], now=clock.now())
