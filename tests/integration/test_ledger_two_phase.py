"""Pending (two-phase) transfers: post in full or less, void, expiry, refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.ledger_support import (
    balance_of,
    card_spec,
    fund,
    merchant_spec,
    open_accounts,
    transfer,
    transfer_count,
)
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.ledger import (
    TransferKind,
    expire_pending,
    post_pending,
    post_transfers,
    void_pending,
)
from tongka.ledger.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    PendingTransferAlreadyResolved,
    PendingTransferExpired,
    PendingTransferNotFound,
    PostAmountExceedsPending,
)

pytestmark = pytest.mark.usefixtures("books_balance")


@pytest.fixture
async def held(database: Database, clock: FixedClock) -> Database:
    """card-1 holds 1,000 of which 600 are reserved by pending transfer ``auth-1``."""
    await open_accounts(database, card_spec("card-1"), merchant_spec("m"), now=clock.now())
    await fund(database, "card-1", 1_000, now=clock.now())
    async with database.transaction() as session:
        await post_transfers(
            session,
            [transfer("auth-1", "card-1", "m", 600, pending=True, timeout_seconds=60)],
            now=clock.now(),
        )
    return database


async def test_pending_reserves_funds_against_the_limit(held: Database, clock: FixedClock) -> None:
    card = await balance_of(held, "card-1")
    assert (card.debits_pending, card.available, card.posted) == (600, 400, 1_000)
    with pytest.raises(InsufficientFunds):
        async with held.transaction() as session:
            await post_transfers(session, [transfer("x", "card-1", "m", 401)], now=clock.now())


async def test_post_in_full(held: Database, clock: FixedClock) -> None:
    async with held.transaction() as session:
        posted = await post_pending(
            session, transfer_id="capture-1", pending_id="auth-1", now=clock.now()
        )
    assert (posted.kind, posted.amount, posted.pending_id) == (
        TransferKind.POST_PENDING,
        600,
        "auth-1",
    )
    card = await balance_of(held, "card-1")
    merchant = await balance_of(held, "m")
    assert (card.debits_pending, card.debits_posted, card.available) == (0, 600, 400)
    assert (merchant.credits_pending, merchant.credits_posted) == (0, 600)


async def test_post_less_releases_the_rest(held: Database, clock: FixedClock) -> None:
    async with held.transaction() as session:
        await post_pending(
            session, transfer_id="capture-1", pending_id="auth-1", amount=250, now=clock.now()
        )
    card = await balance_of(held, "card-1")
    assert (card.debits_pending, card.debits_posted, card.available) == (0, 250, 750)


async def test_void_releases_everything(held: Database, clock: FixedClock) -> None:
    async with held.transaction() as session:
        voided = await void_pending(
            session, transfer_id="void-1", pending_id="auth-1", now=clock.now()
        )
    assert (voided.kind, voided.amount) == (TransferKind.VOID_PENDING, 600)
    card = await balance_of(held, "card-1")
    assert (card.debits_pending, card.debits_posted, card.available) == (0, 0, 1_000)


async def test_resolution_replays_and_refuses_a_second_resolution(
    held: Database, clock: FixedClock
) -> None:
    async with held.transaction() as session:
        first = await post_pending(
            session, transfer_id="capture-1", pending_id="auth-1", now=clock.now()
        )
    async with held.transaction() as session:
        replayed = await post_pending(
            session, transfer_id="capture-1", pending_id="auth-1", now=clock.now()
        )
    with pytest.raises(IdempotencyConflict):
        async with held.transaction() as session:
            await post_pending(
                session, transfer_id="capture-1", pending_id="auth-1", amount=5, now=clock.now()
            )
    with pytest.raises(PendingTransferAlreadyResolved) as refused:
        async with held.transaction() as session:
            await void_pending(session, transfer_id="void-1", pending_id="auth-1", now=clock.now())
    assert replayed == first
    assert "already posted by transfer capture-1" in refused.value.message
    assert await transfer_count(held) == 3


async def test_posting_a_voided_pending_transfer_is_refused(
    held: Database, clock: FixedClock
) -> None:
    async with held.transaction() as session:
        await void_pending(session, transfer_id="void-1", pending_id="auth-1", now=clock.now())
    with pytest.raises(PendingTransferAlreadyResolved) as refused:
        async with held.transaction() as session:
            await post_pending(
                session, transfer_id="capture-1", pending_id="auth-1", now=clock.now()
            )
    assert refused.value.code == "pending_transfer_already_resolved"
    assert await transfer_count(held) == 3
    assert (await balance_of(held, "m")).credits_posted == 0


@pytest.mark.parametrize(
    ("pending_id", "amount", "error"),
    [
        pytest.param("nope", None, PendingTransferNotFound, id="unknown-pending"),
        pytest.param("fund-card-1-1000", None, PendingTransferNotFound, id="not-a-pending"),
        pytest.param("auth-1", 601, PostAmountExceedsPending, id="more-than-reserved"),
    ],
)
async def test_bad_resolutions_are_refused(
    held: Database, clock: FixedClock, pending_id: str, amount: int | None, error: type
) -> None:
    with pytest.raises(error):
        async with held.transaction() as session:
            await post_pending(
                session,
                transfer_id="capture-1",
                pending_id=pending_id,
                amount=amount,
                now=clock.now(),
            )
    assert await transfer_count(held) == 2


async def test_after_the_timeout_posting_is_refused_and_the_job_releases(
    held: Database, clock: FixedClock
) -> None:
    # given the timeout has passed but the job has not run yet
    clock.advance(timedelta(seconds=60))
    with pytest.raises(PendingTransferExpired):
        async with held.transaction() as session:
            await post_pending(
                session, transfer_id="capture-1", pending_id="auth-1", now=clock.now()
            )
    assert await transfer_count(held) == 2

    # when the expiry job runs (twice: the second run finds nothing)
    async with held.transaction() as session:
        assert await expire_pending(session, now=clock.now()) == 1
    async with held.transaction() as session:
        assert await expire_pending(session, now=clock.now()) == 0

    # then the reservation is released and posting still names the expiry
    card = await balance_of(held, "card-1")
    assert (card.debits_pending, card.available) == (0, 1_000)
    with pytest.raises(PendingTransferExpired) as refused:
        async with held.transaction() as session:
            await post_pending(
                session, transfer_id="capture-1", pending_id="auth-1", now=clock.now()
            )
    assert refused.value.code == "pending_transfer_expired"
    assert await transfer_count(held) == 3


async def test_the_job_leaves_unexpired_and_resolved_transfers_alone(
    held: Database, clock: FixedClock
) -> None:
    async with held.transaction() as session:
        assert await expire_pending(session, now=clock.now() + timedelta(seconds=59)) == 0
        await post_pending(session, transfer_id="capture-1", pending_id="auth-1", now=clock.now())
    async with held.transaction() as session:
        assert await expire_pending(session, now=clock.now() + timedelta(hours=1)) == 0
    assert (await balance_of(held, "m")).credits_posted == 600
