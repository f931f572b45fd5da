"""Refunds back the way a payment came (原路退回).

``refund_id`` is the caller's idempotency key and the channel's (WeChat out_refund_no,
Alipay out_request_no): a replay answers the first refund and asks nothing again. The
amount is reserved on the payment by one conditional ``UPDATE … WHERE refunded + amount <=
amount``, so concurrent refunds never add up to more than was paid. The ledger is not
touched here: whoever credited the card reverses that (an automatic refund of a payment
whose purpose refused it moved no value in the first place).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.config import Settings
from tongka.db.statements import dialect_of, savepoint
from tongka.errors import InvalidRequest, amount_detail
from tongka.events import record_event
from tongka.payments import registry
from tongka.payments.channel import ChannelRefundStatus, RefundRequest
from tongka.payments.errors import (
    PaymentNotFound,
    PaymentNotRefundable,
    RefundExceedsPayment,
    RefundIdConflict,
)
from tongka.payments.models import Payment, PaymentRefund, PaymentStatus, RefundStatus

_refunds = PaymentRefund.__table__
_REFUNDABLE = (PaymentStatus.SUCCEEDED.value, PaymentStatus.PARTLY_REFUNDED.value)


def automatic_refund_id(payment_id: str) -> str:
    return f"auto-{payment_id}"


def _check_refund_id(refund_id: str) -> None:
    if (
        not refund_id
        or len(refund_id) > 64
        or not refund_id.replace("-", "").replace("_", "").isalnum()
    ):
        raise InvalidRequest(
            "A refund id is 1 to 64 letters, digits, '-' or '_'.",
            code="invalid_refund_id",
            param="refund_id",
        )


async def _existing(session: AsyncSession, refund_id: str) -> PaymentRefund | None:
    return await session.scalar(
        select(PaymentRefund)
        .where(PaymentRefund.id == refund_id)
        .execution_options(populate_existing=True)
    )


def _replay(refund: PaymentRefund, payment_id: str, amount_minor: int) -> PaymentRefund:
    if (refund.payment_id, refund.amount_minor) != (payment_id, amount_minor):
        raise RefundIdConflict(
            f"refund id {refund.id} was used for another refund "
            f"({refund.amount_minor} of payment {refund.payment_id})",
            param="refund_id",
        )
    return refund


async def refund_payment(
    session: AsyncSession,
    payment_id: str,
    *,
    refund_id: str,
    amount_minor: int,
    reason: str,
    now: datetime,
    settings: Settings,
    is_automatic: bool = False,
) -> PaymentRefund:
    """Refund ``amount_minor`` of a paid payment through its channel (see the module).

    Raises ``PaymentNotFound``, ``PaymentNotRefundable`` (not paid), ``RefundExceedsPayment``
    (more than what is left), ``RefundIdConflict`` (the id was used for another refund), or
    the channel's ``ChannelError``; whatever is raised, nothing was written.
    """
    _check_refund_id(refund_id)
    if type(amount_minor) is not int or amount_minor <= 0:
        raise InvalidRequest(
            "A refund's amount is a positive whole number of minor units.",
            code="invalid_amount",
            param="amount",
        )
    existing = await _existing(session, refund_id)
    if existing is not None:
        return _replay(existing, payment_id, amount_minor)
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).execution_options(populate_existing=True)
    )
    if payment is None:
        raise PaymentNotFound("No such payment.", param="payment_id", details={"object": "payment"})
    async with savepoint(session):
        inserted = await _insert_refund(
            session, refund_id, payment, amount_minor, reason, is_automatic, now
        )
        if not inserted:  # a concurrent call with this id won: answer what it did
            raced = await _existing(session, refund_id)
            assert raced is not None
            return _replay(raced, payment_id, amount_minor)
        await _reserve(session, payment, amount_minor, now)
        answer = await registry.channel(settings, payment.channel).refund(
            RefundRequest(
                refund_id=refund_id,
                payment_id=payment.id,
                channel_transaction_id=payment.channel_transaction_id,
                amount_minor=amount_minor,
                total_minor=payment.amount_minor,
                currency=payment.currency,
                reason=reason[:80],
            )
        )
    status = {
        ChannelRefundStatus.SUCCEEDED: RefundStatus.SUCCEEDED,
        ChannelRefundStatus.PROCESSING: RefundStatus.PROCESSING,
        ChannelRefundStatus.FAILED: RefundStatus.FAILED,
    }[answer.status]
    await session.execute(
        update(PaymentRefund)
        .where(PaymentRefund.id == refund_id)
        .values(status=status.value, channel_refund_id=answer.channel_refund_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await record_event(
        session,
        type="payment.refunded",
        object_type="payment",
        object_id=payment.id,
        actor="payments:automatic" if is_automatic else "payments",
        now=now,
        merchant_id=payment.merchant_id,
        data={
            "refund_id": refund_id,
            "amount": amount_detail(amount_minor, payment.currency),
            "status": status.value,
            "is_automatic": is_automatic,
        },
    )
    refund = await _existing(session, refund_id)
    assert refund is not None
    return refund


async def _insert_refund(
    session: AsyncSession,
    refund_id: str,
    payment: Payment,
    amount_minor: int,
    reason: str,
    is_automatic: bool,
    now: datetime,
) -> bool:
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    result = await session.execute(
        dialect.insert(_refunds)
        .values(
            id=refund_id,
            payment_id=payment.id,
            amount_minor=amount_minor,
            currency=payment.currency,
            status=RefundStatus.PROCESSING.value,
            reason=reason[:200],
            is_automatic=is_automatic,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(_refunds.c.id)
    )
    return result.first() is not None


async def _reserve(
    session: AsyncSession, payment: Payment, amount_minor: int, now: datetime
) -> None:
    """Add the amount to what is refunded, if the payment is paid and has that much left."""
    refunded = Payment.refunded_minor + amount_minor
    changed = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.status.in_(_REFUNDABLE),
            refunded <= Payment.amount_minor,
        )
        .values(
            refunded_minor=refunded,
            status=case(
                (refunded == Payment.amount_minor, PaymentStatus.REFUNDED.value),
                else_=PaymentStatus.PARTLY_REFUNDED.value,
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount == 1:  # type: ignore[attr-defined]
        return
    current = await session.scalar(
        select(Payment).where(Payment.id == payment.id).execution_options(populate_existing=True)
    )
    assert current is not None
    if current.status not in _REFUNDABLE:
        raise PaymentNotRefundable(
            f"payment {current.id} is {current.status}: only a paid payment is refunded",
            param="payment_id",
            details={"status": current.status},
        )
    left = current.amount_minor - current.refunded_minor
    raise RefundExceedsPayment(
        f"at most {left} of payment {current.id} is left to refund, not {amount_minor}",
        param="amount",
        details={
            "refundable": amount_detail(left, current.currency),
            "requested": amount_detail(amount_minor, current.currency),
        },
    )
