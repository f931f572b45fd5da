"""Finance records an incoming bank transfer (来账登记): matched to its payment by the
reference the payer quoted (``adapters.bank_transfer.bank_reference``), then taken like any
channel's notification (``service.accept_notification``), so it settles the payment — and
its order — exactly once, whoever records it how often.

The record is signed with the bank key, as the bank's own message is: the payments service
has one way in for a paid bank transfer. Its amount must be the payment's (a transfer for
another amount is refused and changes nothing: finance asks the payer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.config import Settings
from tongka.payments import registry
from tongka.payments.adapters.bank_transfer import BankTransfer, payment_id_from_reference
from tongka.payments.channel import ChannelName
from tongka.payments.errors import NotificationMismatch
from tongka.payments.models import Payment
from tongka.payments.service import accept_notification


@dataclass(frozen=True)
class IncomingTransfer:
    """One credit line of the reserve account, as finance reads it off the bank."""

    reference: str
    amount_minor: int
    currency: str
    payer_account_name: str
    payer_account_number: str
    bank_transaction_id: str
    received_at: datetime


async def record_incoming_transfer(
    session: AsyncSession, transfer: IncomingTransfer, *, now: datetime, settings: Settings
) -> Payment:
    """Settle the payment the transfer's reference names; answer it (paid, or already paid:
    a second record of the same transfer changes nothing). ``NotificationMismatch`` for a
    reference that names no bank-transfer payment, or another amount or currency."""
    payment_id = payment_id_from_reference(transfer.reference)
    payment = await session.get(Payment, payment_id) if payment_id else None
    if payment is None or payment.channel != ChannelName.BANK_TRANSFER.value:
        raise NotificationMismatch(
            f"the reference {transfer.reference!r} names no payment by bank transfer",
            param="reference",
        )
    bank = registry.channel(settings, ChannelName.BANK_TRANSFER)
    assert isinstance(bank, BankTransfer)
    headers, body = bank.recorded_transfer(
        reference=transfer.reference.strip(),
        amount_minor=transfer.amount_minor,
        currency=transfer.currency,
        payer_account_name=transfer.payer_account_name,
        payer_account_number=transfer.payer_account_number,
        received_at=transfer.received_at,
        bank_transaction_id=transfer.bank_transaction_id,
    )
    await accept_notification(
        session, ChannelName.BANK_TRANSFER, headers, body, now=now, settings=settings
    )
    await session.refresh(payment)
    return payment
