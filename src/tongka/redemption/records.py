"""A purchase's records and events (``service.redeem`` step 5), and the replay of a key
already answered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.events import record_event
from tongka.redemption.models import Redemption
from tongka.redemption.movement import card_fee
from tongka.redemption.purchase import (
    DEFAULT_HOLD,
    CardFacts,
    Purchase,
    RedeemRequest,
    redemption_id_of,
)


@dataclass(slots=True)
class RecordRow:
    """One card's part of a purchase as plain values: the columns of ``redemptions``."""

    id: str
    kind: str
    status: str
    decline_code: str | None
    merchant_id: str
    store_id: str | None
    terminal_id: str | None
    card_id: str | None
    purchase_id: str | None
    idempotency_key: str
    currency: str
    requested: int
    amount: int
    paid: int
    bonus: int
    fee: int
    captured: int
    refunded: int
    refunded_paid: int
    refunded_bonus: int
    refunded_fee: int
    balance_after: int | None
    expires_at: datetime | None
    actor: str
    created_at: datetime
    updated_at: datetime


RECORD_COLUMNS = tuple(field.name for field in fields(RecordRow))
# a record as ``RedemptionOut`` and the event read it: an ORM one, or the lane's values
AnyRecord = Redemption | RecordRow


def purchase_record_rows(
    request: RedeemRequest,
    purchase_id: str,
    found: Sequence[tuple[CardFacts | None, str | None]],
    shares: list[int],
    codes: list[str | None],
    decline: str | None,
    takes: list[tuple[int, int]],
    balances_after: list[int | None],
    *,
    fee_rate: Decimal,
    now: datetime,
) -> list[RecordRow]:
    """Every card's record as plain values (``orm_records`` makes ORM objects of them;
    the redemption lane writes them by hand)."""
    is_hold = request.kind == "authorization"
    records: list[RecordRow] = []
    for index, ((card, _), share) in enumerate(zip(found, shares, strict=True)):
        paid, bonus = takes[index] if decline is None else (0, 0)
        amount = paid + bonus
        approved = decline is None
        status = ("authorized" if is_hold else "approved") if approved else "declined"
        records.append(
            RecordRow(
                id=redemption_id_of(request.merchant_id, request.idempotency_key, index),
                kind=request.kind,
                status=status,
                decline_code=None if approved else (codes[index] or decline),
                merchant_id=request.merchant_id,
                store_id=request.store_id,
                terminal_id=request.terminal_id,
                card_id=card.id if card is not None else None,
                purchase_id=purchase_id,
                idempotency_key=request.idempotency_key,
                currency=request.currency,
                requested=share,
                amount=amount,
                paid=paid,
                bonus=bonus,
                fee=(
                    0
                    if is_hold or not approved or card is None
                    else card_fee(amount, request.currency, fee_rate, card)
                ),
                captured=0,
                refunded=0,
                refunded_paid=0,
                refunded_bonus=0,
                refunded_fee=0,
                balance_after=balances_after[index] if approved else None,
                expires_at=(
                    now + timedelta(seconds=request.hold_seconds or DEFAULT_HOLD.total_seconds())
                    if is_hold and approved
                    else None
                ),
                actor=request.actor,
                created_at=now,
                updated_at=now,
            )
        )
    return records


def orm_records(rows: Sequence[RecordRow]) -> list[Redemption]:
    """The ORM objects of ``purchase_record_rows``' rows (not added to a session)."""
    return [Redemption(**{name: getattr(row, name) for name in RECORD_COLUMNS}) for row in rows]


def event_of(record: AnyRecord) -> tuple[str, dict[str, Any]]:
    """A record's event type and data."""
    event = f"{record.kind}.{record.status}"
    data = {
        "purchase_id": record.purchase_id,
        "card_id": record.card_id,
        "amount": record.amount,
        "currency": record.currency,
        "decline_code": record.decline_code,
    }
    return event, data


async def record_purchase(
    session: AsyncSession, request: RedeemRequest, records: list[Redemption], *, now: datetime
) -> list[Redemption]:
    """Add a purchase's records (``orm_records(purchase_record_rows(...))``) to the session,
    each with its event."""
    for record in records:
        session.add(record)
        event, data = event_of(record)
        await record_event(
            session,
            type=event,
            object_type=request.kind,
            object_id=record.id,
            actor=request.actor,
            now=now,
            merchant_id=request.merchant_id,
            data=data,
        )
    await session.flush()
    return records


async def replay(
    session: AsyncSession, existing: object, request: RedeemRequest, *, now: datetime
) -> Purchase:
    """The first answer for this key, or ``reversed`` when its reversal came first."""
    from tongka.redemption.claim import ClaimedKey  # the row type, for the reader

    assert isinstance(existing, ClaimedKey)
    if existing.is_reversed and existing.purchase_id is None:
        return Purchase(
            id=existing.key,
            status="declined",
            amount=request.amount,
            taken=0,
            currency=request.currency,
            decline_code="reversed",
            redemptions=[],
            is_replay=True,
        )
    records = list(
        (
            await session.scalars(
                select(Redemption)
                .where(Redemption.purchase_id == existing.purchase_id)
                .order_by(Redemption.created_at, Redemption.requested)
            )
        ).all()
    )
    declined = next((r.decline_code for r in records if r.status == "declined"), None)
    if existing.is_reversed:
        declined = "reversed"
    return Purchase(
        id=existing.purchase_id or "",
        status="declined" if declined else "approved",
        amount=sum(r.requested for r in records),
        taken=sum(r.amount for r in records),
        currency=records[0].currency if records else request.currency,
        decline_code=declined,
        redemptions=records,
        is_replay=True,
    )
