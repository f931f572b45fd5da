"""Payouts: a due batch's net paid to the merchant's settlement account, exactly once.

Three short transactions around the channel call, so no database lock is held while the
bank answers: (1) claim the batch (``due → paying``, a conditional update: one claimer)
and write the payout with its key ``<batch id>-<attempt>``; (2) call the channel; (3)
record the answer. Accepted: the ledger moves merchant payable → reserve bank
(``settlement_payout:<payout id>``). Rejected: nothing moved; the batch is ``failed`` and
its net is carried into the next batch, paid under that batch's own key. Timed out: the
payout is ``unknown`` and the next run asks the channel by the same key (and re-sends it
under the same key if the channel never got it) — a payout never goes out twice.
Returned days later (退票): reserve bank → merchant payable
(``settlement_payout_return:<payout id>``), a movement the next batch picks up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.clock import business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.events import record_event
from tongka.ids import new_id
from tongka.ledger import AccountCode, TransferRequest
from tongka.ledger.system_accounts import system_account
from tongka.redemption.fees import merchant_payable_id
from tongka.settlement import deposits
from tongka.settlement.contracts import contract_on, payout_hold, reveal_account_number
from tongka.settlement.models import Payout, SettlementBatch
from tongka.settlement.payout_channel import (
    PayoutAnswer,
    PayoutChannel,
    PayoutOrder,
    PayoutTimedOut,
)
from tongka.settlement.runs import PAYOUT_CODE, PAYOUT_RETURN_CODE

RETURN_WATCH = timedelta(days=14)  # how long after paying we still ask about a 退票
OPEN = ("submitting", "unknown")


@dataclass
class PayoutSummary:
    paid: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # batch ids


async def _due_batch_ids(session: AsyncSession, pay_through: date) -> list[str]:
    return list(
        (
            await session.scalars(
                select(SettlementBatch.id)
                .where(
                    SettlementBatch.payout_status == "due",
                    SettlementBatch.payout_date <= pay_through,
                )
                .order_by(SettlementBatch.payout_date, SettlementBatch.id)
            )
        ).all()
    )


async def _start(
    session: AsyncSession, batch_id: str, settings: Settings, now: datetime
) -> tuple[str, PayoutOrder] | str | None:
    """Claim the batch and write its payout: ``(payout id, order)``; ``"held"`` when
    payouts are held (the net is carried on); ``None`` when another run has it."""
    claimed = await session.execute(
        update(SettlementBatch)
        .where(SettlementBatch.id == batch_id, SettlementBatch.payout_status == "due")
        .values(payout_status="paying", updated_at=now)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    batch = await session.get(SettlementBatch, batch_id, populate_existing=True)
    assert batch is not None
    contract = await contract_on(session, batch.merchant_id, business_date(now, settings.timezone))
    hold = await payout_hold(session, batch.merchant_id)
    if hold is not None or contract is None:
        batch.payout_status = "carried"
        batch.carry_reason = "held" if hold is not None else "no_contract"
        await session.flush()
        return "held"
    if await _breaks_deposit_ratio(session, batch, settings, now):
        return "held"
    payout = Payout(
        id=new_id("pyo"),
        batch_id=batch.id,
        attempt=1,
        idempotency_key=f"{batch.id}-1",
        merchant_id=batch.merchant_id,
        currency=batch.currency,
        amount=batch.net,
        status="submitting",
        account_last4=contract.account_last4,
        created_at=now,
        updated_at=now,
    )
    session.add(payout)
    await session.flush()
    return payout.id, await _order(session, payout, settings, now)


async def _breaks_deposit_ratio(
    session: AsyncSession, batch: SettlementBatch, settings: Settings, now: datetime
) -> bool:
    """预收资金存管: a payout that would leave the issuer less deposited than its ratio asks
    is refused, naming the rule; the batch carries (``carry_reason`` ``deposit_ratio``)."""
    figures = await deposits.payout_refusal(
        session, batch.merchant_id, batch.currency, batch.net, now=now, timezone=settings.timezone
    )
    if figures is None:
        return False
    batch.payout_status, batch.carry_reason = "carried", deposits.RULE
    await session.flush()
    await record_event(
        session,
        type="payout.refused",
        object_type="settlement_batch",
        object_id=batch.id,
        actor="system:settlement",
        now=now,
        merchant_id=batch.merchant_id,
        data={
            "rule": deposits.RULE,
            "issuer_class": figures.issuer_class,
            "ratio_bp": figures.ratio_bp,
            "required": figures.required,
            "held": figures.held,
            "amount": batch.net,
        },
    )
    return True


async def _order(
    session: AsyncSession, payout: Payout, settings: Settings, now: datetime
) -> PayoutOrder:
    contract = await contract_on(
        session, payout.merchant_id, business_date(payout.created_at, settings.timezone)
    )
    assert contract is not None
    return PayoutOrder(
        key=payout.idempotency_key,
        amount_minor=payout.amount,
        currency=payout.currency,
        bank_name=contract.bank_name,
        account_name=contract.account_name,
        account_number=reveal_account_number(contract, settings),
    )


async def _record(
    session: AsyncSession, payout_id: str, answer: PayoutAnswer | None, now: datetime
) -> str:
    """Apply the channel's answer to an open payout (a no-op on a closed one)."""
    payout = await session.get(Payout, payout_id, with_for_update=True, populate_existing=True)
    assert payout is not None
    if payout.status not in OPEN:
        return payout.status
    batch = await session.get(SettlementBatch, payout.batch_id, with_for_update=True)
    assert batch is not None
    payout.updated_at = batch.updated_at = now
    if answer is None or answer.status == "unknown":
        payout.status = "unknown"
    elif answer.status == "rejected":
        payout.status, payout.failure_reason = "rejected", (answer.reason or "")[:200]
        batch.payout_status, batch.carry_reason = "failed", "payout_rejected"
        await _event(session, payout, "payout.rejected", now, reason=payout.failure_reason)
    else:  # accepted, or already returned: it was paid first
        transfer = TransferRequest(
            transfer_id=f"{PAYOUT_CODE}:{payout.id}",
            debit_account_id=merchant_payable_id(payout.merchant_id, payout.currency),
            credit_account_id=await system_account(
                session, AccountCode.RESERVE_BANK, payout.currency, now=now
            ),
            amount=payout.amount,
            currency=payout.currency,
            code=PAYOUT_CODE,
            reference=payout.batch_id,
            metadata={"payout_id": payout.id, "channel_reference": answer.reference},
        )
        await ledger.post_transfers(session, [transfer], now=now)
        payout.status, payout.transfer_id = "paid", transfer.transfer_id
        payout.channel_reference = answer.reference
        batch.payout_status = "paid"
        await _event(session, payout, "payout.paid", now)
        if answer.status == "returned":
            await _return(session, payout, answer, now)
    await session.flush()
    return payout.status


async def _return(
    session: AsyncSession, payout: Payout, answer: PayoutAnswer, now: datetime
) -> None:
    """退票: the money is back in the reserve account and owed to the merchant again."""
    transfer = TransferRequest(
        transfer_id=f"{PAYOUT_RETURN_CODE}:{payout.id}",
        debit_account_id=await system_account(
            session, AccountCode.RESERVE_BANK, payout.currency, now=now
        ),
        credit_account_id=merchant_payable_id(payout.merchant_id, payout.currency),
        amount=payout.amount,
        currency=payout.currency,
        code=PAYOUT_RETURN_CODE,
        reference=payout.batch_id,
        metadata={"payout_id": payout.id},
    )
    await ledger.post_transfers(session, [transfer], now=now)
    payout.status, payout.return_transfer_id = "returned", transfer.transfer_id
    payout.failure_reason = (answer.reason or "")[:200]
    payout.updated_at = now
    batch = await session.get(SettlementBatch, payout.batch_id)
    assert batch is not None
    batch.payout_status, batch.updated_at = "returned", now
    await _event(session, payout, "payout.returned", now, reason=payout.failure_reason)


async def _record_return(
    session: AsyncSession, payout_id: str, answer: PayoutAnswer, now: datetime
) -> bool:
    payout = await session.get(Payout, payout_id, with_for_update=True, populate_existing=True)
    assert payout is not None
    if payout.status != "paid":
        return False
    await _return(session, payout, answer, now)
    await session.flush()
    return True


async def _event(
    session: AsyncSession, payout: Payout, type_: str, now: datetime, **data: object
) -> None:
    await record_event(
        session,
        type=type_,
        object_type="payout",
        object_id=payout.id,
        actor="job:settlement",
        now=now,
        merchant_id=payout.merchant_id,
        data={
            "batch_id": payout.batch_id,
            "amount": payout.amount,
            "currency": payout.currency,
            **data,
        },
    )


async def _send(channel: PayoutChannel, order: PayoutOrder) -> PayoutAnswer | None:
    try:
        return await channel.submit(order)
    except PayoutTimedOut:
        return None


def _tally(summary: PayoutSummary, payout_id: str, status: str) -> None:
    {"paid": summary.paid, "rejected": summary.rejected, "returned": summary.returned}.get(
        status, summary.unknown
    ).append(payout_id)


async def pay_due(
    database: Database,
    *,
    channel: PayoutChannel,
    settings: Settings,
    now: datetime,
    pay_through: date,
    summary: PayoutSummary | None = None,
) -> PayoutSummary:
    """Pay every batch due on or before ``pay_through`` (see the module)."""
    summary = summary or PayoutSummary()
    for batch_id in await database.run(lambda s: _due_batch_ids(s, pay_through)):
        started = await database.run(
            lambda s, batch_id=batch_id: _start(s, batch_id, settings, now)  # type: ignore[misc]
        )
        if started == "held":
            summary.held.append(batch_id)
        if not isinstance(started, tuple):
            continue
        payout_id, order = started
        answer = await _send(channel, order)
        status = await database.run(
            lambda s, p=payout_id, a=answer: _record(s, p, a, now),  # type: ignore[misc]
            idempotent=True,
        )
        _tally(summary, payout_id, status)
    return summary


async def follow_up(
    database: Database,
    *,
    channel: PayoutChannel,
    settings: Settings,
    now: datetime,
    summary: PayoutSummary | None = None,
) -> PayoutSummary:
    """Ask the channel about open payouts (re-sending under the same key what it never
    got) and about recent paid ones (returns, 退票)."""
    summary = summary or PayoutSummary()

    async def open_and_recent(session: AsyncSession) -> list[tuple[str, str]]:
        rows = await session.execute(
            select(Payout.id, Payout.status).where(
                (Payout.status.in_(OPEN))
                | ((Payout.status == "paid") & (Payout.updated_at >= now - RETURN_WATCH))
            )
        )
        return [(row[0], row[1]) for row in rows]

    for payout_id, status in await database.run(open_and_recent):
        answer: PayoutAnswer | None
        async with database.transaction() as session:
            payout = await session.get(Payout, payout_id)
            assert payout is not None
            key = payout.idempotency_key
            # a payout that went out in a bank batch payment file is answered by its
            # result file only: never re-sent another way (``payout_file.py``)
            resend = status in OPEN and payout.payout_file is None
            order = await _order(session, payout, settings, now) if resend else None
        answer = await channel.query(key)
        if status in OPEN:
            if answer.status == "unknown" and order is not None:
                answer = await _send(channel, order)  # never arrived: same key, once
            result = await database.run(
                lambda s, p=payout_id, a=answer: _record(s, p, a, now),  # type: ignore[misc]
                idempotent=True,
            )
            _tally(summary, payout_id, result)
        elif answer.status == "returned":
            is_new = await database.run(
                lambda s, p=payout_id, a=answer: _record_return(s, p, a, now),  # type: ignore[misc]
                idempotent=True,
            )
            if is_new:
                summary.returned.append(payout_id)
    return summary


# The answer paths every channel's answers take (the HTTP desk's, a result file's).
record_answer = _record
record_return = _record_return
