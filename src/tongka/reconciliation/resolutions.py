"""Resolving exceptions: by a match by hand (final at once), or by an adjusting transfer
through the suspense account that a second person approves (four eyes).

Nothing is edited: a resolution is a new row (one per exception, by a unique key, so two
operators resolving at once get one resolution and one ``ExceptionAlreadyResolved``); an
approval is a new row (one per resolution) and posts the adjustment through the ledger
with a transfer id derived from the resolution (``reconciliation:<resolution id>``), so an
approval replayed, or raced, posts once.

The adjustment moves the exception's difference between suspense and the account the
difference is on: the channel's receivable for a statement line (``long``: the channel
holds money for us we have no record of, so receivable ↑ against suspense; ``short`` the
reverse; an amount or fee difference by its sign; a refund line turns the direction), the
reserve bank account for the bank leg and the reserve balance. A ``date_shift`` moves no
money: it is matched by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.statements import savepoint
from tongka.errors import InvalidRequest
from tongka.events import record_event
from tongka.ids import new_id
from tongka.ledger import TransferRequest, post_transfers
from tongka.ledger.system_accounts import system_account
from tongka.ledger.types import AccountCode
from tongka.payments.accounts import channel_receivable_account
from tongka.reconciliation.errors import (
    ExceptionAlreadyResolved,
    NotAnAdjustment,
    NothingToAdjust,
    ReconciliationExceptionNotFound,
    ResolutionNotFound,
    SameApprover,
)
from tongka.reconciliation.kinds import (
    ExceptionKind,
    ExceptionStatus,
    ResolutionMethod,
)
from tongka.reconciliation.models import Approval, ReconciliationException, Resolution

ADJUSTMENT_CODE = "reconciliation_adjustment"
BANK_KINDS = (ExceptionKind.BANK_MISMATCH, ExceptionKind.RESERVE_BALANCE)


def difference_of(exception: ReconciliationException) -> int:
    """What the outside (channel or bank) has more than our books, signed, in minor units."""
    channel = exception.channel_minor or 0
    ledger = exception.ledger_minor or 0
    kind = ExceptionKind(exception.kind)
    if kind is ExceptionKind.DATE_SHIFT:
        return 0
    if kind is ExceptionKind.FEE_MISMATCH:
        # the channel kept more fee than we expected: less reaches us
        return (exception.ledger_fee_minor or 0) - (exception.channel_fee_minor or 0)
    if kind is ExceptionKind.DUPLICATE:
        return channel
    if kind is ExceptionKind.BANK_MISMATCH:
        return (exception.bank_minor or 0) - channel
    if kind is ExceptionKind.RESERVE_BALANCE:
        return (exception.bank_minor or 0) - ledger
    return channel - ledger


@dataclass(frozen=True)
class Adjustment:
    debit_account_id: str
    credit_account_id: str
    amount_minor: int


async def adjustment_for(
    session: AsyncSession, exception: ReconciliationException, *, now: datetime
) -> Adjustment:
    difference = difference_of(exception)
    if exception.line_kind == "refund":
        difference = -difference  # a refund's money goes the other way
    if difference == 0:
        raise NothingToAdjust(
            "This difference moves no money: match it by hand.",
            details={"exception": exception.id, "kind": exception.kind},
        )
    currency = exception.currency
    suspense = await system_account(session, AccountCode.SUSPENSE, currency, now=now)
    if ExceptionKind(exception.kind) in BANK_KINDS:
        account = await system_account(session, AccountCode.RESERVE_BANK, currency, now=now)
    else:
        account = await channel_receivable_account(session, exception.channel, currency, now=now)
    if difference > 0:
        return Adjustment(account, suspense, difference)
    return Adjustment(suspense, account, -difference)


async def get_exception(session: AsyncSession, exception_id: str) -> ReconciliationException:
    row = await session.get(ReconciliationException, exception_id)
    if row is None:
        raise ReconciliationExceptionNotFound(
            "No such reconciliation exception.", details={"object": "reconciliation_exception"}
        )
    return row


async def status_of(session: AsyncSession, exception_id: str) -> ExceptionStatus:
    resolution = await session.scalar(
        select(Resolution).where(Resolution.exception_id == exception_id)
    )
    if resolution is None:
        return ExceptionStatus.OPEN
    if resolution.method == ResolutionMethod.ADJUSTMENT and (
        await session.get(Approval, resolution.id) is None
    ):
        return ExceptionStatus.AWAITING_APPROVAL
    return ExceptionStatus.RESOLVED


def _reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise InvalidRequest(
            "Give a reason: it is recorded with the resolution.",
            code="reason_required",
            param="reason",
        )
    return cleaned[:500]


async def propose(
    session: AsyncSession,
    exception_id: str,
    method: ResolutionMethod,
    reason: str,
    *,
    actor: str,
    now: datetime,
    matched_reference: str | None = None,
) -> Resolution:
    """Resolve an exception by hand, or propose its adjustment (see the module)."""
    exception = await get_exception(session, exception_id)
    cleaned = _reason(reason)
    adjustment = None
    if method is ResolutionMethod.ADJUSTMENT:
        adjustment = await adjustment_for(session, exception, now=now)
    resolution = Resolution(
        id=new_id("rcr"),
        exception_id=exception.id,
        method=method.value,
        reason=cleaned,
        matched_reference=matched_reference,
        amount_minor=adjustment.amount_minor if adjustment else None,
        currency=exception.currency,
        debit_account_id=adjustment.debit_account_id if adjustment else None,
        credit_account_id=adjustment.credit_account_id if adjustment else None,
        proposed_by=actor,
        proposed_at=now,
    )
    try:
        async with savepoint(session):
            session.add(resolution)
            await session.flush()
    except IntegrityError:
        raise ExceptionAlreadyResolved(
            "This exception has a resolution already.", details={"exception": exception.id}
        ) from None
    await record_event(
        session,
        type=f"reconciliation_exception.{'adjustment_proposed' if adjustment else 'matched'}",
        object_type="reconciliation_exception",
        object_id=exception.id,
        actor=actor,
        now=now,
        data={"resolution": resolution.id, "reason": cleaned},
    )
    return resolution


async def get_resolution(session: AsyncSession, resolution_id: str) -> Resolution:
    row = await session.get(Resolution, resolution_id)
    if row is None:
        raise ResolutionNotFound(
            "No such resolution.", details={"object": "reconciliation_resolution"}
        )
    return row


def transfer_id_of(resolution: Resolution) -> str:
    return f"reconciliation:{resolution.id}"


async def approve(
    session: AsyncSession, resolution_id: str, *, actor: str, now: datetime
) -> Approval:
    """A second person approves an adjustment; it posts through the ledger, once."""
    resolution = await get_resolution(session, resolution_id)
    if resolution.method != ResolutionMethod.ADJUSTMENT:
        raise NotAnAdjustment(
            "A match by hand is final: there is nothing to approve.",
            details={"resolution": resolution.id},
        )
    if actor == resolution.proposed_by:
        raise SameApprover(
            "Four eyes: someone other than who proposed the adjustment must approve it.",
            details={"resolution": resolution.id},
        )
    existing = await session.get(Approval, resolution.id)
    if existing is not None:
        return existing
    assert resolution.amount_minor is not None
    assert resolution.debit_account_id is not None
    assert resolution.credit_account_id is not None
    approval = Approval(
        resolution_id=resolution.id,
        approved_by=actor,
        approved_at=now,
        transfer_id=transfer_id_of(resolution),
    )
    try:
        async with savepoint(session):
            session.add(approval)
            await session.flush()
    except IntegrityError:
        raced = await session.get(Approval, resolution.id, populate_existing=True)
        assert raced is not None
        return raced
    await post_transfers(
        session,
        [
            TransferRequest(
                transfer_id=approval.transfer_id,
                debit_account_id=resolution.debit_account_id,
                credit_account_id=resolution.credit_account_id,
                amount=resolution.amount_minor,
                currency=resolution.currency,
                code=ADJUSTMENT_CODE,
                reference=resolution.exception_id,
                metadata={"resolution": resolution.id, "approved_by": actor},
            )
        ],
        now=now,
    )
    await record_event(
        session,
        type="reconciliation_exception.adjusted",
        object_type="reconciliation_exception",
        object_id=resolution.exception_id,
        actor=actor,
        now=now,
        data={"resolution": resolution.id, "transfer": approval.transfer_id},
    )
    return approval
