"""Paying returned cards out (退卡出款): each ``paying`` or ``unknown`` return submitted to
the payout channel under its key, in three short transactions like settlement payouts, so
no lock is held while the bank answers: (1) read what to send, (2) call the channel, (3)
record the answer on the locked return. Accepted: card-returns payable → reserve bank
(``card_return_payout:<return id>``), ``paid``. Rejected: ``rejected``, with the bank's
reason; nothing moved (the value stays owed in the payable). No answer: ``unknown``, and
the next run asks by the same key — the bank pays one key once, so a return never goes out
twice. ``sales.pay_card_returns`` is the worker job (``HttpPayoutChannel`` against the
gateway's ``/bank/payouts``).

Returned days later (退票): each run also asks about returns paid in the last
``RETURN_WATCH``; a returned one moves reserve bank → card-returns payable
(``card_return_payout_return:<return id>``) and is ``returned``, owed again. A rejected or
returned payout is sent again only by a retry to another account (``return_retries``):
attempt *n* has the key ``<return id>-<n>`` and its own transfer ids (``…:<n>``). An
answer is applied only to the attempt whose key it answers, so a late answer about an
earlier attempt changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.clock import Clock
from tongka.config import Settings
from tongka.crypto import decrypt
from tongka.db import Database
from tongka.identity.models import Consumer
from tongka.ledger import AccountCode, TransferRequest
from tongka.ledger.system_accounts import system_account
from tongka.sales.card_returns import (
    account_binding,
    account_key,
    return_event,
    returns_payable_id,
)
from tongka.sales.return_models import CardReturn
from tongka.settlement.payout_channel import (
    HttpPayoutChannel,
    PayoutAnswer,
    PayoutChannel,
    PayoutOrder,
    PayoutTimedOut,
)

OPEN = ("paying", "unknown")
ACTOR = "job:sales.pay_card_returns"
BATCH = 50
RETURN_WATCH = timedelta(days=14)  # how long after paying we still ask about a 退票


@dataclass
class ReturnPayoutSummary:
    paid: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)


async def _open_ids(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(CardReturn.id)
        .where(CardReturn.status.in_(OPEN))
        .order_by(CardReturn.created_at)
        .limit(BATCH)
    )
    return list(rows.all())


def _order(row: CardReturn, settings: Settings, holder_name: str | None) -> PayoutOrder:
    """What the bank is sent. The account's name is the holder's verified name — the
    return was accepted only for an account in that name (spaces and case aside) — and
    not the masked name the return shows (a bank refuses a payout to a masked name)."""
    assert row.account_number_encrypted is not None
    assert row.payout_key is not None
    return PayoutOrder(
        key=row.payout_key,
        amount_minor=row.amount_minor,
        currency=row.currency,
        bank_name=row.bank_name or "",
        account_name=holder_name or row.account_name or "",
        account_number=decrypt(
            account_key(settings),
            row.account_number_encrypted,
            associated_data=account_binding(row.id, row.attempt),
        ),
    )


def _attempt_suffix(row: CardReturn) -> str:
    return "" if row.attempt <= 1 else f":{row.attempt}"


async def record_answer(
    session: AsyncSession,
    return_id: str,
    answer: PayoutAnswer,
    now: datetime,
    *,
    key: str | None = None,
) -> str:
    """Apply the channel's answer to an open return (a no-op on a closed one, and on one
    whose current attempt is not ``key``'s: a late answer about an earlier attempt)."""
    row = await session.get(CardReturn, return_id, with_for_update=True, populate_existing=True)
    assert row is not None
    if row.status not in OPEN or (key is not None and row.payout_key != key):
        return row.status
    row.updated_at = now
    if answer.status == "unknown":
        row.status = "unknown"
    elif answer.status == "rejected":
        row.status, row.failure_reason = "rejected", (answer.reason or "")[:200]
        await return_event(session, row, "card_return.rejected", now, actor=ACTOR)
    else:  # accepted (or returned later: it was paid first)
        await ledger.post_transfers(
            session,
            [
                TransferRequest(
                    transfer_id=f"card_return_payout:{row.id}{_attempt_suffix(row)}",
                    debit_account_id=returns_payable_id(row.currency),
                    credit_account_id=await system_account(
                        session, AccountCode.RESERVE_BANK, row.currency, now=now
                    ),
                    amount=row.amount_minor,
                    currency=row.currency,
                    code="card_return_payout",
                    reference=row.card_id,
                    metadata={
                        "return_id": row.id,
                        "attempt": row.attempt,
                        "channel_reference": answer.reference,
                    },
                )
            ],
            now=now,
        )
        row.status, row.channel_reference = "paid", answer.reference
        await return_event(session, row, "card_return.paid", now, actor=ACTOR)
        if answer.status == "returned":
            await _returned(session, row, answer, now)
    await session.flush()
    return row.status


async def _returned(
    session: AsyncSession, row: CardReturn, answer: PayoutAnswer, now: datetime
) -> None:
    """退票: the money is back in the reserve account and owed to the holder again."""
    await ledger.post_transfers(
        session,
        [
            TransferRequest(
                transfer_id=f"card_return_payout_return:{row.id}{_attempt_suffix(row)}",
                debit_account_id=await system_account(
                    session, AccountCode.RESERVE_BANK, row.currency, now=now
                ),
                credit_account_id=returns_payable_id(row.currency),
                amount=row.amount_minor,
                currency=row.currency,
                code="card_return_payout_return",
                reference=row.card_id,
                metadata={"return_id": row.id, "attempt": row.attempt},
            )
        ],
        now=now,
    )
    row.status, row.failure_reason = "returned", (answer.reason or "")[:200]
    row.updated_at = now
    await return_event(session, row, "card_return.returned", now, actor=ACTOR)


async def record_return(
    session: AsyncSession, return_id: str, key: str, answer: PayoutAnswer, now: datetime
) -> bool:
    """A paid attempt ``key`` came back (退票); False when that is not the return's paid
    attempt (already recorded, or retried since)."""
    row = await session.get(CardReturn, return_id, with_for_update=True, populate_existing=True)
    assert row is not None
    if row.status != "paid" or row.payout_key != key:
        return False
    await _returned(session, row, answer, now)
    await session.flush()
    return True


async def _recently_paid(session: AsyncSession, now: datetime) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(CardReturn.id, CardReturn.payout_key)
        .where(
            CardReturn.status == "paid",
            CardReturn.method == "bank_account",
            CardReturn.updated_at >= now - RETURN_WATCH,
        )
        .order_by(CardReturn.updated_at)
        .limit(BATCH)
    )
    return [(row[0], row[1]) for row in rows if row[1]]


async def follow_up_paid(
    database: Database, channel: PayoutChannel, *, now: datetime, summary: ReturnPayoutSummary
) -> None:
    """Ask the bank about recently paid returns; record each one it returned (退票)."""
    for return_id, key in await database.run(lambda s: _recently_paid(s, now)):
        answer = await channel.query(key)
        if answer.status != "returned":
            continue

        async def returned(
            session: AsyncSession,
            return_id: str = return_id,
            key: str = key,
            answer: PayoutAnswer = answer,
        ) -> bool:
            return await record_return(session, return_id, key, answer, now)

        if await database.run(returned):
            summary.returned.append(return_id)


async def pay_returns(
    database: Database, channel: PayoutChannel, *, settings: Settings, now: datetime
) -> ReturnPayoutSummary:
    summary = ReturnPayoutSummary()
    for return_id in await database.run(_open_ids):

        async def read(
            session: AsyncSession, return_id: str = return_id
        ) -> tuple[str, PayoutOrder]:
            row = await session.get(CardReturn, return_id, populate_existing=True)
            assert row is not None
            holder = await session.get(Consumer, row.holder_id) if row.holder_id else None
            return row.status, _order(row, settings, holder.verified_name if holder else None)

        status, order = await database.run(read)
        try:
            answer = (
                await channel.submit(order)
                if status == "paying"
                else await channel.query(order.key)
            )
            if answer.status == "unknown" and status == "unknown":
                answer = await channel.submit(order)  # the bank never got it: same key again
        except PayoutTimedOut:
            answer = PayoutAnswer("unknown")

        async def record(
            session: AsyncSession,
            return_id: str = return_id,
            answer: PayoutAnswer = answer,
            key: str = order.key,
        ) -> str:
            return await record_answer(session, return_id, answer, now, key=key)

        outcome = await database.run(record)
        {
            "paid": summary.paid,
            "rejected": summary.rejected,
            "returned": summary.returned,
        }.get(outcome, summary.unknown).append(return_id)
    await follow_up_paid(database, channel, now=now, summary=summary)
    return summary


async def pay_card_returns(database: Database, clock: Clock, settings: Settings) -> int:
    """The worker job: pay open returns through the gateway's payout desk."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        summary = await pay_returns(
            database,
            HttpPayoutChannel(settings.sandbox_gateway_url, http),
            settings=settings,
            now=clock.now(),
        )
    return len(summary.paid) + len(summary.rejected) + len(summary.returned)
