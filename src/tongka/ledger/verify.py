"""``verify_ledger``: prove on a live database that the books are right.

Every check runs, and each reports what it found, so one run names every problem (the
beancount habit: validation returns error records instead of stopping at the first).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.ledger.balances import Delta, transfer_effects
from tongka.ledger.cover import covers
from tongka.ledger.models import LedgerAccount, LedgerBalance, LedgerBlock, LedgerBlockEntry
from tongka.ledger.queries import transfer_from_row, transfers_table
from tongka.ledger.sealing import GENESIS_HASH, LATE_SEAL_GRACE, block_hash, seal_pending_blocks
from tongka.ledger.types import Transfer, TransferKind

MAX_LISTED = 10  # problems named per check; the count says how many there were
UNSEALED_GRACE = timedelta(seconds=10)  # a transfer this old should have been sealed


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    details: str


@dataclass
class VerifyReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def add(self, name: str, problems: list[str], success: str) -> None:
        if problems:
            listed = "; ".join(problems[:MAX_LISTED])
            more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
            self.checks.append(Check(name, False, f"{len(problems)} problem(s): {listed}{more}"))
        else:
            self.checks.append(Check(name, True, success))


@dataclass(frozen=True)
class _Account:
    currency: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool


async def _stored_balances(session: AsyncSession) -> dict[str, Delta]:
    rows = await session.execute(
        select(
            LedgerBalance.account_id,
            func.sum(LedgerBalance.debits_posted),
            func.sum(LedgerBalance.credits_posted),
            func.sum(LedgerBalance.debits_pending),
            func.sum(LedgerBalance.credits_pending),
        ).group_by(LedgerBalance.account_id)
    )
    return {row[0]: Delta(*(int(value) for value in row[1:])) for row in rows}


async def recomputed_balances(session: AsyncSession) -> dict[str, Delta]:
    """Every account's four balance columns, recomputed from the transfers alone."""
    pending = transfers_table.alias("pending")
    balances: dict[str, Delta] = defaultdict(Delta)
    for side, column in (
        (0, transfers_table.c.debit_account_id),
        (1, transfers_table.c.credit_account_id),
    ):
        rows = await session.execute(
            select(
                transfers_table.c.kind,
                column,
                func.sum(transfers_table.c.amount),
                func.coalesce(func.sum(pending.c.amount), 0),
            )
            .select_from(
                transfers_table.outerjoin(pending, pending.c.id == transfers_table.c.pending_id)
            )
            .group_by(transfers_table.c.kind, column)
        )
        for kind, account_id, amount, pending_amount in rows:
            effects = transfer_effects(TransferKind(kind), int(amount), int(pending_amount))
            balances[account_id].add(effects[side])
    return dict(balances)


async def _accounts(session: AsyncSession) -> dict[str, _Account]:
    rows = await session.execute(
        select(
            LedgerAccount.id,
            LedgerAccount.currency,
            LedgerAccount.debits_must_not_exceed_credits,
            LedgerAccount.credits_must_not_exceed_debits,
        )
    )
    return {row[0]: _Account(row[1], bool(row[2]), bool(row[3])) for row in rows}


async def check_balances(session: AsyncSession, report: VerifyReport) -> None:
    """Debits equal credits per currency; stored balances equal the transfers; no limit crossed;
    every transfer is between existing accounts of its own currency."""
    accounts = await _accounts(session)
    stored = await _stored_balances(session)
    recomputed = await recomputed_balances(session)

    totals: dict[str, Delta] = defaultdict(Delta)
    for account_id, balance in stored.items():
        currency = accounts[account_id].currency if account_id in accounts else "???"
        totals[currency].add(balance)
    report.add(
        "debits equal credits per currency",
        [
            f"{currency}: debits posted {total.debits_posted} != credits posted "
            f"{total.credits_posted}, or debits pending {total.debits_pending} != "
            f"credits pending {total.credits_pending}"
            for currency, total in sorted(totals.items())
            if total.debits_posted != total.credits_posted
            or total.debits_pending != total.credits_pending
        ],
        f"{len(totals)} currencies balance",
    )
    report.add(
        "stored balances equal the sum of transfers",
        [
            f"account {account_id}: stored {stored.get(account_id, Delta())} != "
            f"recomputed {recomputed.get(account_id, Delta())}"
            for account_id in sorted(set(stored) | set(recomputed))
            if stored.get(account_id, Delta()) != recomputed.get(account_id, Delta())
        ],
        f"{len(stored)} accounts match their transfers",
    )
    breaches = []
    for account_id, balance in sorted(stored.items()):
        account = accounts.get(account_id)
        if account is None:
            continue
        debits = balance.debits_posted + balance.debits_pending
        credits = balance.credits_posted + balance.credits_pending
        if account.debits_must_not_exceed_credits and debits > balance.credits_posted:
            breaches.append(f"account {account_id}: debits {debits} exceed credits")
        if account.credits_must_not_exceed_debits and credits > balance.debits_posted:
            breaches.append(f"account {account_id}: credits {credits} exceed debits")
    report.add("no account crosses its limit", breaches, "all limits hold")

    debit_account = LedgerAccount.__table__.alias("debit_account")
    credit_account = LedgerAccount.__table__.alias("credit_account")
    rows = await session.execute(
        select(transfers_table.c.id, transfers_table.c.currency)
        .select_from(
            transfers_table.outerjoin(
                debit_account, debit_account.c.id == transfers_table.c.debit_account_id
            ).outerjoin(credit_account, credit_account.c.id == transfers_table.c.credit_account_id)
        )
        .where(
            debit_account.c.id.is_(None)
            | credit_account.c.id.is_(None)
            | (debit_account.c.currency != transfers_table.c.currency)
            | (credit_account.c.currency != transfers_table.c.currency)
        )
        .limit(MAX_LISTED + 1)
    )
    report.add(
        "transfers join existing accounts of their currency",
        [f"transfer {transfer_id} ({currency})" for transfer_id, currency in rows],
        "every transfer's accounts exist and share its currency",
    )


@dataclass
class _BlockSeen:
    number: int
    sealed_at: datetime
    min_sequence: int
    max_sequence: int


async def check_chain(session: AsyncSession, report: VerifyReport) -> None:
    """Recompute every block's hash from the transfers it names, and the links between blocks."""
    blocks = (
        (await session.execute(select(LedgerBlock).order_by(LedgerBlock.number))).scalars().all()
    )
    entries = LedgerBlockEntry.__table__
    result = await session.stream(
        select(entries.c.block_number, entries.c.transfer_sequence, transfers_table)
        .select_from(
            entries.outerjoin(
                transfers_table, transfers_table.c.sequence == entries.c.transfer_sequence
            )
        )
        .order_by(entries.c.block_number, entries.c.transfer_sequence)
    )
    problems: list[str] = []
    groups = aiter(_transfers_by_block(result, problems))
    group = await anext(groups, None)
    previous_hash = GENESIS_HASH
    seen: list[_BlockSeen] = []
    for expected_number, block in enumerate(blocks, start=1):
        while group is not None and group[0] < block.number:
            problems.append(f"entries name block {group[0]}, which does not exist")
            group = await anext(groups, None)
        transfers: list[Transfer] = []
        if group is not None and group[0] == block.number:
            transfers = group[1]
            group = await anext(groups, None)
        problems.extend(_block_problems(block, expected_number, previous_hash, transfers))
        previous_hash = block.hash
        if transfers:
            seen.append(
                _BlockSeen(
                    block.number, block.sealed_at, transfers[0].sequence, transfers[-1].sequence
                )
            )
    while group is not None:
        problems.append(f"entries name block {group[0]}, which does not exist")
        group = await anext(groups, None)
    problems.extend(_late_seals(seen))
    report.add(
        "hash chain recomputes",
        problems,
        f"{len(blocks)} blocks, {sum(block.transfer_count for block in blocks)} transfers intact",
    )


async def _transfers_by_block(
    rows: AsyncIterator[Any], problems: list[str]
) -> AsyncIterator[tuple[int, list[Transfer]]]:
    """The sealed transfers, one block at a time (rows come ordered by block)."""
    number: int | None = None
    transfers: list[Transfer] = []
    async for row in rows:
        if row[0] != number:
            if number is not None:
                yield number, transfers
            number, transfers = row[0], []
        if row.id is None:
            problems.append(f"block {row[0]} names transfer #{row[1]}, which is gone")
        else:
            transfers.append(transfer_from_row(row))
    if number is not None:
        yield number, transfers


def _block_problems(
    block: LedgerBlock, expected_number: int, previous_hash: str, transfers: list[Transfer]
) -> list[str]:
    problems = []
    if block.number != expected_number:
        problems.append(f"block {expected_number} is missing (found {block.number})")
    if block.previous_hash != previous_hash:
        problems.append(f"block {block.number} does not link to the block before it")
    if len(transfers) != block.transfer_count:
        problems.append(
            f"block {block.number} holds {len(transfers)} transfers, sealed with "
            f"{block.transfer_count}"
        )
    if block_hash(block.previous_hash, transfers) != block.hash:
        span = f"#{transfers[0].sequence}..#{transfers[-1].sequence}" if transfers else "none"
        problems.append(
            f"block {block.number}: hash does not match its transfers ({span}): a transfer "
            "was changed, added or removed"
        )
    return problems


def _late_seals(blocks: list[_BlockSeen]) -> list[str]:
    """Blocks sealing a transfer long after a block had sealed higher sequence numbers."""
    problems = []
    highest: list[int] = []  # highest sequence sealed by each block and those before it
    for block in blocks:
        earlier = bisect.bisect_right(highest, block.min_sequence)
        if earlier < len(highest):
            first_later = blocks[earlier]
            if block.sealed_at - first_later.sealed_at > LATE_SEAL_GRACE:
                problems.append(
                    f"block {block.number} sealed transfer #{block.min_sequence} long after "
                    f"block {first_later.number} had sealed later ones (inserted after the fact?)"
                )
        highest.append(max(block.max_sequence, highest[-1] if highest else block.max_sequence))
    return problems


async def check_all_sealed(session: AsyncSession, report: VerifyReport, now: datetime) -> None:
    sealed_entry = select(LedgerBlockEntry.transfer_sequence).where(
        LedgerBlockEntry.transfer_sequence == transfers_table.c.sequence
    )
    rows = await session.execute(
        select(transfers_table.c.sequence)
        .where(~sealed_entry.exists(), transfers_table.c.created_at < now - UNSEALED_GRACE)
        .limit(MAX_LISTED + 1)
    )
    report.add(
        "every settled transfer is sealed",
        [f"transfer #{sequence} is not in any block" for (sequence,) in rows],
        f"no transfer older than {UNSEALED_GRACE.seconds} s is unsealed",
    )


async def check_cover(session: AsyncSession, report: VerifyReport) -> None:
    """Customer money (reserve + channel receivables) covers card balances, card bonuses,
    merchant payables and promotion budgets, per currency (``ledger.cover``)."""
    found = await covers(session)
    report.add(
        "customer money covers what is owed",
        [
            f"{cover.currency}: reserve + channel receivables {cover.customer_money} < "
            f"cards + bonuses + merchant payables + promotion budgets {cover.owed} "
            f"(short by {-cover.surplus})"
            for cover in found
            if not cover.is_covered
        ],
        f"{len(found)} currencies covered",
    )


async def verify_ledger(session: AsyncSession, now: datetime) -> VerifyReport:
    """Seal what is committed, then run every check; ``report.ok`` only if all hold."""
    report = VerifyReport()
    sealed = await seal_pending_blocks(session, now, full_scan=True, wait=True)
    report.add("seal committed transfers", [], f"sealed {sealed} new transfers")
    await check_balances(session, report)
    await check_cover(session, report)
    await check_chain(session, report)
    await check_all_sealed(session, report, now)
    return report
