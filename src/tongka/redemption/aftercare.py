"""After a redemption: refunds, capture and void of holds, and reversals (冲正).

Refunds go back onto the same card, never more in total than was taken. The paid and
bonus parts (and the fee given back) follow the original's proportions *cumulatively*
(``tongka.money.allocate`` of the total refunded so far), so partial refunds add up to the
original's parts exactly. Capture and void are the ledger's phase two through the gate
(``money_gate.resolve_card_holds``). A reversal undoes whatever its original did, once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts
from tongka.cards.errors import CardMovementRefused
from tongka.cards.models import Card
from tongka.cards.money_gate import (
    CardMovement,
    Direction,
    HoldResolution,
    Purpose,
    lock_cards,
    move_card_value,
    resolve_card_holds,
)
from tongka.clock import business_date, ensure_utc
from tongka.config import Settings, get_settings
from tongka.errors import amount_detail
from tongka.events import record_event
from tongka.ids import new_id
from tongka.ledger import TransferRequest
from tongka.money import Money
from tongka.redemption.claim import claim_key
from tongka.redemption.decision_point import DecisionRequest, release
from tongka.redemption.errors import (
    AuthorizationNotOpen,
    CaptureExceedsHold,
    RedemptionNotRefundable,
    RefundCardUnavailable,
    RefundExceedsRedeemed,
)
from tongka.redemption.fees import fee_income_account, fee_of, merchant_payable_account
from tongka.redemption.models import Redemption, RedemptionRefund
from tongka.redemption.records import AnyRecord
from tongka.redemption.service import split_parts

HOLD_PARTS = ("paid", "bonus")  # a hold's pending legs (no fee until capture)


def _cumulative(total: int, parts: list[int], currency: str) -> list[int]:
    if sum(parts) == 0:
        return [0 for _ in parts]
    return [m.minor_units for m in Money.of_minor(total, currency).allocate(parts)]


def is_hold_expired(record: AnyRecord, now: datetime) -> bool:
    return (
        record.status == "authorized"
        and record.expires_at is not None
        and ensure_utc(record.expires_at) <= now
    )


def shown_status(record: AnyRecord, now: datetime) -> str:
    return "expired" if is_hold_expired(record, now) else record.status


async def refund(
    session: AsyncSession,
    record: Redemption,
    amount: int,
    *,
    refund_key: str,
    reason: str | None,
    actor: str,
    now: datetime,
    event: str = "redemption.refunded",
) -> RedemptionRefund:
    """Give ``amount`` of a redemption back onto its card (see the module)."""
    if record.status not in ("approved", "captured") or record.card_id is None:
        raise RedemptionNotRefundable(
            f"This redemption is {record.status}: nothing was taken to give back.",
            details={"status": record.status},
        )
    left = record.amount - record.refunded
    if amount > left:
        raise RefundExceedsRedeemed(
            "A refund cannot exceed what was taken less what was refunded already.",
            param="amount",
            details={
                "amount": amount_detail(amount, record.currency),
                "refundable": amount_detail(left, record.currency),
            },
        )
    total = record.refunded + amount
    paid_total, bonus_total = _cumulative(total, [record.paid, record.bonus], record.currency)
    fee_total = _cumulative(total, [record.fee, record.amount - record.fee], record.currency)[0]
    paid, bonus = paid_total - record.refunded_paid, bonus_total - record.refunded_bonus
    fee = fee_total - record.refunded_fee
    refund_id = refund_id_of(record.id, refund_key)
    transfers = _refund_transfers(
        refund_id,
        record,
        paid,
        bonus,
        fee,
        await merchant_payable_account(session, record.merchant_id, record.currency, now=now),
        await fee_income_account(session, record.currency, now=now),
    )
    locked = await lock_cards(session, [record.card_id])
    card = locked[record.card_id]
    if card.expires_at is not None and ensure_utc(card.expires_at) <= now:
        raise _unavailable(card.id, "expired")
    try:
        await move_card_value(
            session,
            [CardMovement(record.card_id, Direction.CREDIT, Purpose.REFUND)],
            transfers,
            now=now,
        )
    except CardMovementRefused as refused:
        raise _unavailable(card.id, card.status) from refused
    record.refunded, record.refunded_paid = total, paid_total
    record.refunded_bonus, record.refunded_fee = bonus_total, fee_total
    record.updated_at = now
    row = RedemptionRefund(
        id=refund_id,
        redemption_id=record.id,
        amount=amount,
        paid=paid,
        bonus=bonus,
        fee=fee,
        reason=reason,
        actor=actor,
        created_at=now,
    )
    session.add(row)
    await _event(session, record, event, actor, now, refund_id=refund_id, amount=amount)
    await session.flush()
    return row


def refund_id_of(redemption_id: str, refund_key: str) -> str:
    """Deterministic from the refund's key, so its transfers' ids are too."""
    digest = hashlib.sha256(f"{redemption_id}\n{refund_key}".encode()).hexdigest()[:26]
    return f"rrf_{digest}"


def _unavailable(card_id: str, status: str) -> RefundCardUnavailable:
    return RefundCardUnavailable(
        f"The card is {status}: value cannot go back onto it. Refund another way.",
        details={"card_id": card_id, "status": status},
    )


def _refund_transfers(
    refund_id: str,
    record: Redemption,
    paid: int,
    bonus: int,
    fee: int,
    payable: str,
    fee_account: str,
) -> list[TransferRequest]:
    """Payable and fee income → the card's paid and bonus parts (fee onto paid first)."""
    assert record.card_id is not None
    fee_paid = min(fee, paid)
    fee_bonus = fee - fee_paid
    legs = [
        ("paid", payable, accounts.main_account_id(record.card_id), paid - fee_paid),
        ("paid_fee", fee_account, accounts.main_account_id(record.card_id), fee_paid),
        ("bonus", payable, accounts.bonus_account_id(record.card_id), bonus - fee_bonus),
        ("bonus_fee", fee_account, accounts.bonus_account_id(record.card_id), fee_bonus),
    ]
    return [
        TransferRequest(
            transfer_id=f"{refund_id}:{leg}",
            debit_account_id=debit,
            credit_account_id=credit,
            amount=amount,
            currency=record.currency,
            code="redemption_refund",
            reference=record.id,
            metadata={"card_id": record.card_id, "part": leg, "redemption_id": record.id},
        )
        for leg, debit, credit, amount in legs
        if amount > 0
    ]


def _open_hold(record: Redemption, now: datetime) -> None:
    if (
        record.kind != "authorization"
        or record.status != "authorized"
        or is_hold_expired(record, now)
    ):
        raise AuthorizationNotOpen(
            f"This authorization is {shown_status(record, now)}: it can no longer be "
            "captured or voided.",
            details={"status": shown_status(record, now)},
        )


async def capture(
    session: AsyncSession,
    record: Redemption,
    amount: int | None,
    *,
    fee_rate: Decimal,
    bonus_first: bool,
    actor: str,
    now: datetime,
) -> Redemption:
    """Take ``amount`` (``None``: all) of a hold; the rest returns to the card."""
    _open_hold(record, now)
    assert record.card_id is not None
    take = record.amount if amount is None else amount
    if take > record.amount:
        raise CaptureExceedsHold(
            "A capture cannot exceed the authorized amount.",
            param="amount",
            details={
                "amount": amount_detail(take, record.currency),
                "authorized": amount_detail(record.amount, record.currency),
            },
        )
    paid, bonus = split_parts(record.paid, record.bonus, take, bonus_first=bonus_first)
    fee = fee_of(take, record.currency, fee_rate)
    payable = await merchant_payable_account(session, record.merchant_id, record.currency, now=now)
    fee_account = await fee_income_account(session, record.currency, now=now)
    resolutions = [
        HoldResolution(
            transfer_id=f"{record.id}:{part}:capture",
            pending_id=f"{record.id}:{part}",
            amount=part_take,
            void=part_take == 0,
        )
        for part, held, part_take in (("paid", record.paid, paid), ("bonus", record.bonus, bonus))
        if held > 0
    ]
    fee_transfers = (
        [
            TransferRequest(
                transfer_id=f"{record.id}:fee",
                debit_account_id=payable,
                credit_account_id=fee_account,
                amount=fee,
                currency=record.currency,
                code="redemption_fee",
                reference=record.id,
            )
        ]
        if fee > 0
        else []
    )
    await resolve_card_holds(
        session,
        [CardMovement(record.card_id, Direction.DEBIT, Purpose.REDEMPTION)],
        resolutions,
        now=now,
        then=fee_transfers,
    )
    record.status, record.captured, record.amount = "captured", take, take
    record.paid, record.bonus, record.fee, record.updated_at = paid, bonus, fee, now
    await _event(session, record, "authorization.captured", actor, now, amount=take)
    await session.flush()
    return record


async def void(
    session: AsyncSession,
    record: Redemption,
    *,
    actor: str,
    now: datetime,
    settings: Settings | None = None,
) -> Redemption:
    """Release a hold in full: the value was never taken (``settings``: the platform's zone,
    for the business date the limits counted the hold on; default the process's)."""
    _open_hold(record, now)
    await _release(session, record, now, settings)
    record.status, record.updated_at = "voided", now
    await _event(session, record, "authorization.voided", actor, now, amount=record.amount)
    await session.flush()
    return record


async def _give_back_use(
    session: AsyncSession, record: Redemption, now: datetime, settings: Settings | None
) -> None:
    """A voided or reversed purchase did not happen: the limits give its use back (a
    refund does not: the redemption happened). The use was counted on the original's
    business date, so that day's counters give it back, whatever day it is now."""
    assert record.card_id is not None
    card = await session.get(Card, record.card_id)
    assert card is not None
    settings = settings if settings is not None else get_settings()
    asked = DecisionRequest(
        merchant_id=record.merchant_id,
        store_id=record.store_id,
        terminal_id=record.terminal_id,
        card_id=card.id,
        product_id=card.product_id,
        issuer_merchant_id=card.merchant_id,
        holder_id=card.holder_id,
        amount=record.requested,
        currency=record.currency,
        kind=record.kind,
        business_date=business_date(ensure_utc(record.created_at), settings.timezone),
    )
    await release(session, asked, now=now, settings=settings)


async def _release(
    session: AsyncSession, record: Redemption, now: datetime, settings: Settings | None = None
) -> None:
    assert record.card_id is not None
    await _give_back_use(session, record, now, settings)
    resolutions = [
        HoldResolution(
            transfer_id=f"{record.id}:{part}:void", pending_id=f"{record.id}:{part}", void=True
        )
        for part, held in (("paid", record.paid), ("bonus", record.bonus))
        if held > 0
    ]
    await resolve_card_holds(
        session,
        [CardMovement(record.card_id, Direction.CREDIT, Purpose.HOLD_RELEASE)],
        resolutions,
        now=now,
    )


@dataclass(frozen=True)
class Reversal:
    key: str
    outcome: str  # reversed | nothing_to_reverse | before_original | already_reversed
    redemptions: list[Redemption]


async def reverse(
    session: AsyncSession,
    merchant_id: str,
    key: str,
    *,
    actor: str,
    now: datetime,
    settings: Settings | None = None,
) -> Reversal:
    """Undo the purchase made with idempotency key ``key``, exactly once, in any order."""
    claim = await claim_key(session, merchant_id, key, now=now, reversal=True)
    if claim.existing is None:
        await record_event(
            session,
            type="redemption.reversal_before_original",
            object_type="redemption_key",
            object_id=key[:64],
            actor=actor,
            now=now,
            merchant_id=merchant_id,
        )
        return Reversal(key, "before_original", [])
    row = claim.row
    assert row is not None  # the key was there before: its row, locked
    records = list(
        (
            await session.scalars(
                select(Redemption).where(Redemption.purchase_id == row.purchase_id)
            )
        ).all()
    )
    if row.is_reversed:
        return Reversal(key, "already_reversed", records)
    undone = False
    for record in records:
        undone = await _undo(session, record, actor=actor, now=now, settings=settings) or undone
    row.is_reversed, row.reversed_at = True, now
    await session.flush()
    return Reversal(key, "reversed" if undone else "nothing_to_reverse", records)


async def _undo(
    session: AsyncSession,
    record: Redemption,
    *,
    actor: str,
    now: datetime,
    settings: Settings | None,
) -> bool:
    if record.status == "authorized" and not is_hold_expired(record, now):
        await _release(session, record, now, settings)
    elif record.status in ("approved", "captured") and record.amount > record.refunded:
        await _give_back_use(session, record, now, settings)
        await refund(
            session,
            record,
            record.amount - record.refunded,
            refund_key=f"reversal:{record.id}",
            reason="reversal",
            actor=actor,
            now=now,
            event="redemption.reversal_refunded",
        )
    else:
        return False
    record.status, record.updated_at = "reversed", now
    await _event(session, record, f"{record.kind}.reversed", actor, now, amount=record.amount)
    return True


async def _event(
    session: AsyncSession, record: Redemption, type_: str, actor: str, now: datetime, **data: object
) -> None:
    await record_event(
        session,
        type=type_,
        object_type=record.kind,
        object_id=record.id,
        actor=actor,
        now=now,
        merchant_id=record.merchant_id,
        data={"card_id": record.card_id, "currency": record.currency, **data},
    )


def new_refund_key() -> str:
    return new_id("rfk")
