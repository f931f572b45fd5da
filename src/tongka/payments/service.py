"""Payments' use cases: start a payment, accept a channel's notification, poll, close,
refund. Every function takes the caller's session (the caller commits) and ``now``.

Exactly once: a payment becomes ``succeeded`` by one conditional ``UPDATE … WHERE status IN
(payable)``; only the caller whose update changed the row goes on to call the purpose's
listener, in the same transaction. Concurrent deliveries of one notification wait on the
row's lock (PostgreSQL) or the single writer (SQLite), then find it succeeded and answer
the channel's success ack without changing anything. A notification is trusted only when
the adapter verified its signature and its payment, amount and currency match ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tongka.config import Settings
from tongka.db.statements import savepoint
from tongka.errors import InvalidRequest, amount_detail
from tongka.events import record_event
from tongka.ids import new_id
from tongka.money import get_currency
from tongka.payments import circuit, registry
from tongka.payments.channel import (
    ChannelError,
    ChannelName,
    ChannelPayment,
    ChannelPaymentStatus,
    NotificationAck,
    PaymentInstructions,
    PaymentMethod,
    PaymentRequest,
)
from tongka.payments.errors import NotificationMismatch, PaymentAlreadyPaid, PaymentNotFound
from tongka.payments.models import PAID_STATUSES, PAYABLE_STATUSES, Payment, PaymentStatus
from tongka.payments.parties import Parties, mask_name, mask_number, seal_parties
from tongka.payments.purposes import PaymentOutcome, listener_for
from tongka.payments.refunds import automatic_refund_id, refund_payment
from tongka.payments.routing import Route, choose_route
from tongka.payments.views import PaymentView, StartedPayment, instructions_record, view_of

__all__ = [
    "accept_notification",
    "close_payment",
    "get_payment",
    "poll_payment",
    "refund_payment",
    "start_payment",
]

log = structlog.get_logger(__name__)
DEFAULT_DESCRIPTION = "通卡"


def _check_amount(amount_minor: int, currency: str) -> None:
    get_currency(currency)  # UnknownCurrency
    if type(amount_minor) is not int or amount_minor <= 0:
        raise InvalidRequest(
            "A payment's amount is a positive whole number of minor units.",
            code="invalid_amount",
            param="amount",
        )


async def start_payment(
    session: AsyncSession,
    *,
    purpose_kind: str,
    purpose_id: str,
    merchant_id: str | None,
    amount_minor: int,
    currency: str,
    method: PaymentMethod | str,
    channel: ChannelName | str | None = None,
    payer_code: str | None = None,
    payer_openid: str | None = None,
    expires_at: datetime,
    now: datetime,
    settings: Settings,
    description: str | None = None,
) -> StartedPayment:
    """Create a payment at a channel (routing picks it when ``channel`` is None and the
    reason is recorded) and answer what the payer's client needs.

    When the channel answers paid at once (cash, a scanned code), the payment is settled
    before this returns: the purpose's listener has run, in this transaction. A channel
    that fails with a retryable error counts against its circuit, and a routed payment
    falls back to the next candidate.
    """
    _check_amount(amount_minor, currency)
    listener_for(purpose_kind)  # a payment nobody would be told about must not start
    method = PaymentMethod(method)
    named = ChannelName(channel) if channel is not None else None
    failures: list[tuple[ChannelName, str]] = []
    try:
        async with savepoint(session):  # a refused payment leaves no row behind
            return await _start(
                session,
                failures,
                purpose_kind=purpose_kind,
                purpose_id=purpose_id,
                merchant_id=merchant_id,
                amount_minor=amount_minor,
                currency=currency,
                method=method,
                named=named,
                payer_code=payer_code,
                payer_openid=payer_openid,
                expires_at=expires_at,
                now=now,
                settings=settings,
                description=description,
            )
    finally:
        # kept even when the payment is refused: the breaker must see the channel's errors
        for name, error in failures:
            await circuit.record_failure(session, name, error, now=now, settings=settings)


async def _start(
    session: AsyncSession,
    failures: list[tuple[ChannelName, str]],
    *,
    purpose_kind: str,
    purpose_id: str,
    merchant_id: str | None,
    amount_minor: int,
    currency: str,
    method: PaymentMethod,
    named: ChannelName | None,
    payer_code: str | None,
    payer_openid: str | None,
    expires_at: datetime,
    now: datetime,
    settings: Settings,
    description: str | None,
) -> StartedPayment:
    route = await choose_route(
        session,
        amount_minor=amount_minor,
        currency=currency,
        method=method,
        channel=named,
        payer_code=payer_code,
        now=now,
        settings=settings,
    )
    payment = Payment(
        id=new_id("pay"),
        purpose_kind=purpose_kind,
        purpose_id=purpose_id,
        merchant_id=merchant_id,
        channel=route.channel.value,
        method=method.value,
        amount_minor=amount_minor,
        currency=currency,
        status=PaymentStatus.CREATED.value,
        refunded_minor=0,
        fee_minor=route.fee_minor,
        route_reason=route.reason,
        instructions={},
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    await session.flush()
    request = PaymentRequest(
        payment_id=payment.id,
        amount_minor=amount_minor,
        currency=currency,
        description=description or DEFAULT_DESCRIPTION,
        method=method,
        expires_at=expires_at,
        notify_url=registry.notify_url(settings, route.channel),
        payer_code=payer_code,
        payer_openid=payer_openid,
    )
    instructions = await _create_at_channel(session, payment, route, request, failures, settings)
    payment.instructions = instructions_record(instructions)
    payment.status = PaymentStatus.AWAITING.value
    payment.updated_at = now
    await session.flush()
    await record_event(
        session,
        type="payment.created",
        object_type="payment",
        object_id=payment.id,
        actor="payments",
        now=now,
        merchant_id=merchant_id,
        data={
            "purpose": {"kind": purpose_kind, "id": purpose_id},
            "channel": payment.channel,
            "method": payment.method,
            "amount": amount_detail(amount_minor, currency),
        },
    )
    immediate = instructions.immediate_result
    if immediate is not None and immediate.status is ChannelPaymentStatus.SUCCEEDED:
        _check_match(payment, immediate)
        await settle_paid(session, payment, immediate, now=now, settings=settings)
        # its listener may have refunded it meanwhile: read what the row says now
        return StartedPayment(await _fresh_view(session, payment.id), instructions)
    return StartedPayment(view_of(payment), instructions)  # flushed just above: as stored


async def _create_at_channel(
    session: AsyncSession,
    payment: Payment,
    route: Route,
    request: PaymentRequest,
    failures: list[tuple[ChannelName, str]],
    settings: Settings,
) -> PaymentInstructions:
    """Ask the routed channel, then the fallbacks, while failures are the channel's fault."""
    candidates = [(route.channel, route.fee_minor), *route.fallbacks]
    for index, (name, fee) in enumerate(candidates):
        adapter = registry.channel(settings, name)
        if index:
            payment.channel, payment.fee_minor = name.value, fee
            payment.route_reason = f"{payment.route_reason}; fell back to {name.value}"[:500]
            request = PaymentRequest(
                **{**request.__dict__, "notify_url": registry.notify_url(settings, name)}
            )
            await session.flush()
        try:
            instructions = await adapter.create_payment(request)
        except ChannelError as error:
            if not error.is_retryable:
                raise  # the channel's definite answer (a declined code): not its fault
            failures.append((name, str(error)))  # recorded by start_payment, whatever happens
            log.warning("payments.channel_failed", channel=name.value, error=str(error))
            if index == len(candidates) - 1:
                raise
            payment.route_reason = f"{payment.route_reason}; {name.value} failed: {error}"[:500]
            continue
        await circuit.record_success(session, name, now=payment.created_at)
        return instructions
    raise AssertionError("unreachable")


async def _fresh_view(session: AsyncSession, payment_id: str) -> PaymentView:
    return view_of(await _load(session, payment_id))


async def _load(session: AsyncSession, payment_id: str) -> Payment:
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).execution_options(populate_existing=True)
    )
    if payment is None:
        raise PaymentNotFound("No such payment.", param="payment_id", details={"object": "payment"})
    return payment


async def get_payment(
    session: AsyncSession, payment_id: str, *, merchant_id: str | None = None
) -> PaymentView:
    """A payment; with ``merchant_id`` only that merchant's (another's answers not found)."""
    payment = await _load(session, payment_id)
    if merchant_id is not None and payment.merchant_id != merchant_id:
        raise PaymentNotFound("No such payment.", param="payment_id", details={"object": "payment"})
    return view_of(payment)


def _check_match(payment: Payment, paid: ChannelPayment) -> None:
    """The channel's word must be about this payment, for its amount and currency."""
    if paid.channel.value != payment.channel or paid.payment_id != payment.id:
        raise NotificationMismatch(
            f"the message is about payment {paid.payment_id} of {paid.channel.value}, "
            f"not {payment.id} of {payment.channel}",
            param="payment_id",
        )
    if (paid.amount_minor, paid.currency) != (payment.amount_minor, payment.currency):
        raise NotificationMismatch(
            f"the channel reports {paid.amount_minor} {paid.currency} for payment "
            f"{payment.id}, which is {payment.amount_minor} {payment.currency}",
            param="amount",
            details={
                "reported": amount_detail(paid.amount_minor, paid.currency),
                "expected": amount_detail(payment.amount_minor, payment.currency),
            },
        )


async def settle_paid(
    session: AsyncSession,
    payment: Payment,
    paid: ChannelPayment,
    *,
    now: datetime,
    settings: Settings,
) -> bool:
    """Mark the payment succeeded — once — and tell its purpose; True if this call did."""
    parties = Parties.of(paid)
    written = {
        "status": PaymentStatus.SUCCEEDED.value,
        "paid_at": paid.paid_at or now,
        "channel_transaction_id": paid.channel_transaction_id,
        "funding_type": paid.funding_type.value,
        "payer_account_name_masked": mask_name(parties.payer_account_name),
        "payer_account_number_masked": mask_number(parties.payer_account_number),
        "payee_account_name_masked": mask_name(parties.payee_account_name),
        "payee_account_number_masked": mask_number(parties.payee_account_number),
        "parties_encrypted": seal_parties(settings, payment.id, parties),
        "updated_at": now,
    }
    changed = await session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_([s.value for s in PAYABLE_STATUSES]))
        .values(**written)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False  # someone settled it first: a duplicate
    if payment in session:
        # the conditional UPDATE won: the row is the payment read in this transaction (its
        # status was payable, and only such an UPDATE changes a payable payment) plus what
        # it wrote — no read back
        for name, value in written.items():
            set_committed_value(payment, name, value)
        view = view_of(payment)
    else:
        view = await _fresh_view(session, payment.id)
    outcome = await listener_for(view.purpose_kind).payment_succeeded(session, view, now=now)
    await record_event(
        session,
        type="payment.succeeded",
        object_type="payment",
        object_id=view.id,
        actor=f"channel:{view.channel}",
        now=now,
        merchant_id=view.merchant_id,
        data={
            "purpose": {"kind": view.purpose_kind, "id": view.purpose_id},
            "channel": view.channel,
            "amount": amount_detail(view.amount_minor, view.currency),
            "funding_type": view.funding_type,
            "outcome": PaymentOutcome(outcome).value,
        },
    )
    if outcome is PaymentOutcome.REFUND:
        await refund_payment(
            session,
            view.id,
            refund_id=automatic_refund_id(view.id),
            amount_minor=view.amount_minor,
            reason="automatic: the purpose refused the payment",
            now=now,
            settings=settings,
            is_automatic=True,
        )
    return True


async def accept_notification(
    session: AsyncSession,
    channel: ChannelName | str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    settings: Settings,
) -> NotificationAck:
    """Take a channel's asynchronous notification (see the module).

    Raises ``ForgedNotification`` (signature) or ``NotificationMismatch`` (payment, amount,
    currency) having changed nothing; answers the channel's success ack for a payment it
    settled and for a duplicate or a not-yet-paid message alike.
    """
    adapter = registry.channel(settings, channel)
    paid = adapter.parse_notification(headers, body)  # ForgedNotification
    payment = await session.scalar(
        select(Payment)
        .where(Payment.id == paid.payment_id)
        .execution_options(populate_existing=True)
    )
    if payment is None or payment.channel != adapter.name.value:
        raise NotificationMismatch(
            f"no payment {paid.payment_id} was made through {adapter.name.value}",
            param="payment_id",
        )
    _check_match(payment, paid)
    if paid.status is ChannelPaymentStatus.SUCCEEDED:
        settled = await settle_paid(session, payment, paid, now=now, settings=settings)
        log.info("payments.notification", payment_id=payment.id, settled=settled)
    return adapter.notification_ack(accepted=True)


async def poll_payment(
    session: AsyncSession, payment_id: str, *, now: datetime, settings: Settings
) -> PaymentView:
    """Ask the channel about a payment still awaiting: paid has the same effect as a
    notification; closed or failed there closes it here."""
    payment = await _load(session, payment_id)
    if payment.status not in (PaymentStatus.CREATED, PaymentStatus.AWAITING):
        return view_of(payment)
    name = ChannelName(payment.channel)
    try:
        found = await registry.channel(settings, name).query_payment(payment.id)
    except ChannelError as error:
        if error.is_retryable:
            await circuit.record_failure(session, name, str(error), now=now, settings=settings)
        raise
    await circuit.record_success(session, name, now=now)
    _check_match(payment, found)
    if found.status is ChannelPaymentStatus.SUCCEEDED:
        await settle_paid(session, payment, found, now=now, settings=settings)
    elif found.status in (ChannelPaymentStatus.CLOSED, ChannelPaymentStatus.FAILED):
        target = (
            PaymentStatus.CLOSED
            if found.status is ChannelPaymentStatus.CLOSED
            else PaymentStatus.FAILED
        )
        await _move(
            session, payment.id, (PaymentStatus.CREATED, PaymentStatus.AWAITING), target, now
        )
    return await _fresh_view(session, payment.id)


async def _move(
    session: AsyncSession,
    payment_id: str,
    sources: tuple[PaymentStatus, ...],
    target: PaymentStatus,
    now: datetime,
) -> bool:
    changed = await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_([s.value for s in sources]))
        .values(status=target.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


async def close_payment(
    session: AsyncSession, payment_id: str, *, now: datetime, settings: Settings
) -> PaymentView:
    """Close an unpaid payment at its channel (the order was cancelled or expired).

    The channel is asked first: a payment paid meanwhile is settled instead (its listener
    decides — for a cancelled order, a refund) and the answer shows ``succeeded``. A
    payment already paid raises ``PaymentAlreadyPaid``; closing twice changes nothing.
    """
    payment = await _load(session, payment_id)
    if payment.status in PAID_STATUSES:
        raise PaymentAlreadyPaid(
            f"payment {payment.id} is {payment.status}; refund it instead",
            param="payment_id",
            details={"status": payment.status},
        )
    if payment.status not in (PaymentStatus.CREATED, PaymentStatus.AWAITING):
        return view_of(payment)
    adapter = registry.channel(settings, payment.channel)
    if adapter.name is not ChannelName.CASH:
        found = await adapter.query_payment(payment.id)
        if found.status is ChannelPaymentStatus.SUCCEEDED:
            _check_match(payment, found)
            await settle_paid(session, payment, found, now=now, settings=settings)
            return await _fresh_view(session, payment.id)
    await adapter.close_payment(payment.id)
    if await _move(
        session,
        payment.id,
        (PaymentStatus.CREATED, PaymentStatus.AWAITING),
        PaymentStatus.CLOSED,
        now,
    ):
        await record_event(
            session,
            type="payment.closed",
            object_type="payment",
            object_id=payment.id,
            actor="payments",
            now=now,
            merchant_id=payment.merchant_id,
            data={"channel": payment.channel},
        )
    return await _fresh_view(session, payment.id)
