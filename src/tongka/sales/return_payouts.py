"""Paying returned cards out (退卡出款): each ``paying`` or ``unknown`` return submitted to
the payout channel under its key, in three short transactions like settlement payouts, so
no lock is held while the bank answers: (1) read what to send, (2) call the channel, (3)
record the answer on the locked return. Accepted: card-returns payable → reserve bank
(``card_return_payout:<return id>``), ``paid``. Rejected: ``rejected``, with the bank's
reason; nothing moved (the value stays owed in the payable). No answer: ``unknown``, and
the next run asks by the same key — the bank pays one key once, so a return never goes out
twice. ``sales.pay_card_returns`` is the worker job (``HttpPayoutChannel`` against the
gateway's ``/bank/payouts``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.clock import Clock
from tongka.config import Settings
from tongka.crypto import decrypt
from tongka.db import Database
from tongka.ledger import AccountCode, TransferRequest
from tongka.ledger.system_accounts import system_account
from tongka.sales.card_returns import account_key, return_event, returns_payable_id
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


@dataclass
class ReturnPayoutSummary:
    paid: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


async def _open_ids(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(CardReturn.id)
        .where(CardReturn.status.in_(OPEN))
        .order_by(CardReturn.created_at)
        .limit(BATCH)
    )
    return list(rows.all())


def _order(row: CardReturn, settings: Settings) -> PayoutOrder:
    assert row.account_number_encrypted is not None
    assert row.payout_key is not None
    return PayoutOrder(
        key=row.payout_key,
        amount_minor=row.amount_minor,
        currency=row.currency,
        bank_name=row.bank_name or "",
        account_name=row.account_name or "",
        account_number=decrypt(
            account_key(settings), row.account_number_encrypted, associated_data=row.id
        ),
    )


async def record_answer(
    session: AsyncSession, return_id: str, answer: PayoutAnswer, now: datetime
) -> str:
    """Apply the channel's answer to an open return (a no-op on a closed one)."""
    row = await session.get(CardReturn, return_id, with_for_update=True, populate_existing=True)
    assert row is not None
    if row.status not in OPEN:
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
                    transfer_id=f"card_return_payout:{row.id}",
                    debit_account_id=returns_payable_id(row.currency),
                    credit_account_id=await system_account(
                        session, AccountCode.RESERVE_BANK, row.currency, now=now
                    ),
                    amount=row.amount_minor,
                    currency=row.currency,
                    code="card_return_payout",
                    reference=row.card_id,
                    metadata={"return_id": row.id, "channel_reference": answer.reference},
                )
            ],
            now=now,
        )
        row.status, row.channel_reference = "paid", answer.reference
        await return_event(session, row, "card_return.paid", now, actor=ACTOR)
    await session.flush()
    return row.status


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
            return row.status, _order(row, settings)

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
            session: AsyncSession, return_id: str = return_id, answer: PayoutAnswer = answer
        ) -> str:
            return await record_answer(session, return_id, answer, now)

        outcome = await database.run(record)
        {"paid": summary.paid, "rejected": summary.rejected}.get(outcome, summary.unknown).append(
            return_id
        )
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
    return len(summary.paid) + len(summary.rejected)
