"""Retrying a returned card's payout (退卡重新出款): the bank rejected it (account closed,
户名不符) or paid and then returned it (退票), and the holder — or the platform for them —
gives another bank account in the holder's verified name.

``retry_return`` writes the new attempt on the locked return, in one transaction: the
account is checked and the return rules' name rules hold as for a first return
(``return_holder_unverified``, ``return_account_name_mismatch``); the number is sealed
bound to the attempt (``account_binding``); the return's ``attempt`` goes up by one, its
payout key becomes ``<return id>-<attempt>`` and it is ``paying`` again, for
``sales.pay_card_returns`` to send. Nothing moves in the ledger here: a rejected payout's
value never left the card-returns payable, and a returned one came back to it when the
return was recorded (``return_payouts``). So the value owed is paid once, by the one open
attempt; an attempt is only made from ``rejected`` or ``returned`` (the bank holds nothing
of the previous key), under the return's lock, and each attempt number once (a unique key
in the database).

Idempotent on the retry's id (from the caller's Idempotency-Key or the console form): a
replay answers the return as it is now and makes no second attempt; the same id for
another return is refused (``card_return_retry_conflict``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.models import Card
from tongka.cards.products import get_product
from tongka.config import Settings
from tongka.crypto import encrypt
from tongka.errors import Conflict
from tongka.identity.models import Consumer
from tongka.payments.parties import mask_name
from tongka.sales.card_returns import (
    BankAccount,
    account_binding,
    account_key,
    checked_account,
    get_card_return,
    return_event,
)
from tongka.sales.return_models import CardReturn, CardReturnRetry
from tongka.sales.return_rules import ReturnFacts, ReturnMethod, check_return, get_return_rules

__all__ = ["RETRYABLE", "RetryRequest", "is_retryable", "retry_return", "return_retries"]

RETRYABLE = ("rejected", "returned")


class CardReturnNotRetryable(Conflict):
    code = "card_return_not_retryable"


class CardReturnRetryConflict(Conflict):
    code = "card_return_retry_conflict"


@dataclass(frozen=True)
class RetryRequest:
    return_id: str
    account: BankAccount
    actor: str
    holder_id: str | None = None  # the holder's own request; None: the platform's


def is_retryable(row: CardReturn) -> bool:
    return row.method == ReturnMethod.BANK_ACCOUNT.value and row.status in RETRYABLE


async def retry_return(
    session: AsyncSession,
    request: RetryRequest,
    *,
    retry_id: str,
    now: datetime,
    settings: Settings,
) -> CardReturn:
    """A new payout attempt to ``request.account`` (see the module). Raises
    ``CardReturnNotFound`` (out of scope too), ``CardReturnNotRetryable`` (not rejected or
    returned: e.g. still paying, or paid), ``CardReturnInvalid``, ``ReturnRefused`` (the
    name rules), ``CardReturnRetryConflict``; whatever is raised, nothing was written."""
    scope = {"holder_id": request.holder_id}
    existing = await session.get(CardReturnRetry, retry_id)
    if existing is not None:
        if existing.return_id != request.return_id:
            raise CardReturnRetryConflict(
                "This idempotency key was used to retry another return.", param="return_id"
            )
        return await get_card_return(session, existing.return_id, **scope)
    found = await get_card_return(session, request.return_id, **scope)
    row = await session.get(CardReturn, found.id, with_for_update=True, populate_existing=True)
    assert row is not None
    if not is_retryable(row):
        raise CardReturnNotRetryable(
            "Only a bank payout the bank rejected or returned is sent again.",
            param="return_id",
            details={"status": row.status},
        )
    account = checked_account(request.account)
    await _check_name_rules(session, row, account)
    attempt = row.attempt + 1
    session.add(
        CardReturnRetry(
            id=retry_id,
            return_id=row.id,
            attempt=attempt,
            previous_status=row.status,
            previous_reason=row.failure_reason,
            previous_last4=row.account_last4,
            bank_name=account.bank_name,
            account_name=mask_name(account.account_name),
            account_last4=account.account_number[-4:],
            actor=request.actor,
            created_at=now,
        )
    )
    row.attempt = attempt
    row.bank_name = account.bank_name
    row.account_name = mask_name(account.account_name)
    row.account_number_encrypted = encrypt(
        account_key(settings),
        account.account_number,
        associated_data=account_binding(row.id, attempt),
    )
    row.account_last4 = account.account_number[-4:]
    row.payout_key = f"{row.id}-{attempt}"
    row.status, row.failure_reason, row.channel_reference = "paying", None, None
    row.updated_at = now
    await session.flush()
    await return_event(session, row, "card_return.retried", now, actor=request.actor)
    return row


async def _check_name_rules(session: AsyncSession, row: CardReturn, account: BankAccount) -> None:
    """The account is in the holder's verified name, as for the first return."""
    card = await session.get(Card, row.card_id)
    assert card is not None
    product = await get_product(session, card.product_id)
    holder = await session.get(Consumer, row.holder_id) if row.holder_id else None
    check_return(
        ReturnFacts(
            method=ReturnMethod.BANK_ACCOUNT,
            currency=row.currency,
            is_named=product.is_named,
            has_holder=holder is not None,
            holder_verified_name=holder.verified_name if holder is not None else None,
            account_name=account.account_name,
            is_at_till=False,
        ),
        await get_return_rules(session),
    )


async def return_retries(session: AsyncSession, return_id: str) -> list[CardReturnRetry]:
    """A return's retries, oldest first (the return's page shows them)."""
    rows = await session.scalars(
        select(CardReturnRetry)
        .where(CardReturnRetry.return_id == return_id)
        .order_by(CardReturnRetry.attempt)
    )
    return list(rows.all())
