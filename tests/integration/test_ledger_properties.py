"""Property tests: random sequences of ledger operations against a simple model.

The model is written independently of the posting code (plain integers per account), so it
checks the ledger rather than restating it: every operation is accepted or refused exactly
when the model says so, balances equal the model's after every sequence, and the global
invariants (debits equal credits, stored equals recomputed, no limit crossed) hold.
Each example uses fresh account ids, so examples share the database without interfering.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_books_balance
from tests.ledger_support import (
    card_spec,
    funding_spec,
    merchant_spec,
    open_accounts,
    transfer,
    unit_of_work,
)
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.errors import DomainError
from tongka.ledger import (
    expire_pending,
    get_balances,
    post_batch,
    post_pending,
    post_transfers,
    void_pending,
)

ROLES = ["funding", "card-a", "card-b", "card-c", "merchant", "hot"]
LIMITED = {"card-a", "card-b", "card-c"}
_examples = itertools.count()

amounts = st.integers(min_value=1, max_value=400)
pairs = st.tuples(st.sampled_from(ROLES), st.sampled_from(ROLES)).filter(lambda p: p[0] != p[1])
moves = st.tuples(pairs, amounts)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("transfer"), moves, st.booleans()),
        st.tuples(st.just("group"), st.lists(moves, min_size=2, max_size=3)),
        st.tuples(st.just("batch"), st.lists(moves, min_size=1, max_size=5)),
        st.tuples(st.just("post"), st.integers(0, 20), st.none() | amounts),
        st.tuples(st.just("void"), st.integers(0, 20)),
        st.tuples(st.just("expire"), st.integers(1, 90)),
    ),
    min_size=1,
    max_size=12,
)


@dataclass
class ModelAccount:
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0


@dataclass
class ModelPending:
    transfer_id: str
    debit: str
    credit: str
    amount: int
    expires_at: datetime
    resolution: str | None = None  # "posted", "voided" or "expired"


@dataclass
class Model:
    """What the ledger should hold, computed the obvious way."""

    accounts: dict[str, ModelAccount] = field(
        default_factory=lambda: {role: ModelAccount() for role in ROLES}
    )
    pendings: list[ModelPending] = field(default_factory=list)

    def allows(self, changes: list[tuple[str, str, int, bool]]) -> bool:
        """Would these (debit, credit, amount, pending) changes keep every card >= 0?"""
        trial = {role: ModelAccount(**vars(account)) for role, account in self.accounts.items()}
        for debit, credit, amount, pending in changes:
            self._apply(trial, debit, credit, amount, pending)
        return all(
            trial[role].debits_posted + trial[role].debits_pending <= trial[role].credits_posted
            for role in LIMITED
        )

    def apply(self, debit: str, credit: str, amount: int, pending: bool) -> None:
        self._apply(self.accounts, debit, credit, amount, pending)

    @staticmethod
    def _apply(
        accounts: dict[str, ModelAccount], debit: str, credit: str, amount: int, pending: bool
    ) -> None:
        if pending:
            accounts[debit].debits_pending += amount
            accounts[credit].credits_pending += amount
        else:
            accounts[debit].debits_posted += amount
            accounts[credit].credits_posted += amount

    def release(self, pending: ModelPending, posted_amount: int) -> None:
        self.accounts[pending.debit].debits_pending -= pending.amount
        self.accounts[pending.credit].credits_pending -= pending.amount
        self.apply(pending.debit, pending.credit, posted_amount, pending=False)


class Runner:
    """Runs generated operations against the ledger and the model side by side."""

    def __init__(self, database: Database, prefix: str, unit_kind: str = "session") -> None:
        self.database = database
        self.unit_kind = unit_kind  # what postings run on; phase two takes a session
        self.prefix = prefix
        self.clock = FixedClock()
        self.model = Model()
        self.numbers = itertools.count()

    def account(self, role: str) -> str:
        return f"{self.prefix}:{role}"

    def new_id(self) -> str:
        return f"{self.prefix}:t{next(self.numbers)}"

    async def setup(self) -> None:
        await open_accounts(
            self.database,
            funding_spec(self.account("funding")),
            *(card_spec(self.account(role)) for role in sorted(LIMITED)),
            merchant_spec(self.account("merchant")),
            merchant_spec(self.account("hot"), hot=True),
            now=self.clock.now(),
        )

    async def attempt(self, work, expected_ok: bool, kind: str = "session"):  # type: ignore[no-untyped-def]
        """Run ``work`` in its own transaction; it must succeed exactly when expected."""
        if not expected_ok:
            with pytest.raises(DomainError):
                async with unit_of_work(self.database, kind) as unit:
                    await work(unit)
            return None
        async with unit_of_work(self.database, kind) as unit:
            return await work(unit)

    async def transfer(self, move: tuple[tuple[str, str], int], pending: bool) -> None:
        (debit, credit), amount = move
        transfer_id = self.new_id()
        request = transfer(
            transfer_id,
            self.account(debit),
            self.account(credit),
            amount,
            pending=pending,
            timeout_seconds=60 if pending else None,
        )
        ok = self.model.allows([(debit, credit, amount, pending)])
        await self.attempt(
            lambda s: post_transfers(s, [request], now=self.clock.now()), ok, self.unit_kind
        )
        if ok:
            self.model.apply(debit, credit, amount, pending)
            if pending:
                self.model.pendings.append(
                    ModelPending(
                        transfer_id, debit, credit, amount, self.clock.now() + timedelta(seconds=60)
                    )
                )

    async def group(self, group: list[tuple[tuple[str, str], int]]) -> None:
        requests = [
            transfer(self.new_id(), self.account(d), self.account(c), amount)
            for (d, c), amount in group
        ]
        changes = [(d, c, amount, False) for (d, c), amount in group]
        ok = self.model.allows(changes)
        await self.attempt(
            lambda s: post_transfers(s, requests, now=self.clock.now()), ok, self.unit_kind
        )
        if ok:
            for change in changes:
                self.model.apply(*change)

    async def batch(self, batch: list[tuple[tuple[str, str], int]]) -> None:
        requests = [
            transfer(self.new_id(), self.account(d), self.account(c), amount)
            for (d, c), amount in batch
        ]
        results = await self.attempt(
            lambda s: post_batch(s, requests, now=self.clock.now()), True, self.unit_kind
        )
        for ((debit, credit), amount), result in zip(batch, results, strict=True):
            ok = self.model.allows([(debit, credit, amount, False)])
            assert result.ok == ok, (debit, credit, amount, result.error)
            if ok:
                self.model.apply(debit, credit, amount, False)

    def _outcome(self, pending: ModelPending, amount: int | None) -> bool:
        return (
            pending.resolution is None
            and self.clock.now() < pending.expires_at
            and (amount is None or amount <= pending.amount)
        )

    async def post(self, index: int, amount: int | None) -> None:
        if not self.model.pendings:
            return
        pending = self.model.pendings[index % len(self.model.pendings)]
        ok = self._outcome(pending, amount)
        await self.attempt(
            lambda s: post_pending(
                s,
                transfer_id=self.new_id(),
                pending_id=pending.transfer_id,
                amount=amount,
                now=self.clock.now(),
            ),
            ok,
        )
        if ok:
            pending.resolution = "posted"
            self.model.release(pending, pending.amount if amount is None else amount)

    async def void(self, index: int) -> None:
        if not self.model.pendings:
            return
        pending = self.model.pendings[index % len(self.model.pendings)]
        ok = self._outcome(pending, None)
        await self.attempt(
            lambda s: void_pending(
                s, transfer_id=self.new_id(), pending_id=pending.transfer_id, now=self.clock.now()
            ),
            ok,
        )
        if ok:
            pending.resolution = "voided"
            self.model.release(pending, 0)

    async def expire(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        due = [
            p
            for p in self.model.pendings
            if p.resolution is None and p.expires_at <= self.clock.now()
        ]
        # other examples' pendings may expire too: count only ours afterwards
        await self.attempt(lambda s: expire_pending(s, now=self.clock.now()), True)
        for pending in due:
            pending.resolution = "expired"
            self.model.release(pending, 0)

    async def check_balances(self) -> None:
        async with self.database.transaction() as session:
            balances = await get_balances(session, [self.account(role) for role in ROLES])
        for role in ROLES:
            actual = balances[self.account(role)]
            expected = self.model.accounts[role]
            assert (
                actual.debits_posted,
                actual.credits_posted,
                actual.debits_pending,
                actual.credits_pending,
            ) == (
                expected.debits_posted,
                expected.credits_posted,
                expected.debits_pending,
                expected.credits_pending,
            ), role


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
async def test_random_operations_match_the_model_and_keep_the_books(
    database_and_unit_kind: tuple[Database, str], steps: list[tuple]
) -> None:
    database, unit_kind = database_and_unit_kind
    runner = Runner(database, f"p{next(_examples)}", unit_kind)
    await runner.setup()
    for step in steps:
        name, *arguments = step
        await getattr(runner, name)(*arguments)
    await runner.check_balances()
    await assert_books_balance(database)


@pytest.mark.parametrize("amount", [1, 399, 400])
async def test_a_card_may_be_spent_to_exactly_zero(books_balance: Database, amount: int) -> None:
    runner = Runner(books_balance, f"edge{amount}")
    await runner.setup()
    await runner.transfer((("funding", "card-a"), 400), False)
    await runner.transfer((("card-a", "merchant"), amount), False)
    await runner.transfer((("card-a", "hot"), 400 - amount + 1), False)  # one fen too many
    await runner.check_balances()
