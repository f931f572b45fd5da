"""Issuing capacity (额度控制): an issuer's outstanding card balances stay within its quota.

How it holds under concurrency: funding an issuer's cards first locks the issuer's quota
row (``SELECT ... FOR UPDATE``; SQLite serializes writers anyway), then sums the
outstanding balances of the issuer's cards from the ledger, checks ``outstanding + amount
<= quota``, and posts the funding transfer before the lock is released at commit. Two
fundings of one issuer therefore queue; spending never takes the lock (it only lowers the
outstanding amount, which cannot break the rule). See docs/decisions/0004.

A funding may also post first and check last (``check_quota_after``, a paid top-up does):
the lock is then taken as the transaction's last step, and the sum read under it already
holds the transaction's own posting. It is the same rule under the same lock — every
funding of the issuer takes it before it commits, and the sum read after waiting for it
sees each funding committed before (READ COMMITTED reads afresh per statement; SQLite has
one writer) — but the lock is held for the last statements before the commit instead of
for the whole rest of the transaction, which is what queued one issuer's top-ups.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.acceptance import require_merchant_exists
from tongka.cards.errors import IssuerQuotaExceeded
from tongka.cards.issuing import CardStatus
from tongka.cards.models import Card, CardIssuerQuota
from tongka.currencies import require_enabled
from tongka.errors import amount_detail
from tongka.events import record_event
from tongka.ledger import AccountCode
from tongka.ledger.models import LedgerAccount, LedgerBalance

HOLDING_STATUSES = (CardStatus.ACTIVE, CardStatus.FROZEN, CardStatus.LOST, CardStatus.EXPIRED)


async def set_quota(
    session: AsyncSession, merchant_id: str, currency: str, quota: int, *, actor: str, now: datetime
) -> CardIssuerQuota:
    """Grant (or change) an issuer's quota; setting the same value again changes nothing.

    An unknown ``merchant_id`` is refused (``unknown_merchant``, 422): a quota granted to a
    typo would wait for whichever merchant one day gets that id."""
    await require_merchant_exists(session, merchant_id)
    require_enabled(currency)
    row = await session.get(CardIssuerQuota, (merchant_id, currency), with_for_update=True)
    before = row.quota if row is not None else None
    if row is not None and row.quota == quota:
        return row
    if row is None:
        row = CardIssuerQuota(merchant_id=merchant_id, currency=currency, quota=quota)
        session.add(row)
    row.quota = quota
    row.updated_by = actor
    row.updated_at = now
    await session.flush()
    await record_event(
        session,
        type="card_issuer_quota.updated",
        object_type="card_issuer_quota",
        object_id=f"{merchant_id}:{currency}",
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"currency": currency, "before": before, "after": quota},
    )
    return row


async def outstanding_balance(session: AsyncSession, merchant_id: str, currency: str) -> int:
    """What the issuer's cards hold today (paid and bonus parts, holds deducted), from the
    ledger, in one aggregate statement: it runs under the issuer's quota lock on every
    funding and top-up, so it must not load the issuer's cards (it did: a top-up cost grew
    with the number of cards the issuer had, and every top-up of the issuer queued on it)."""
    debits, credits, pending = (
        await session.execute(
            select(
                func.sum(LedgerBalance.debits_posted),
                func.sum(LedgerBalance.credits_posted),
                func.sum(LedgerBalance.debits_pending),
            )
            .join(LedgerAccount, LedgerAccount.id == LedgerBalance.account_id)
            .join(Card, Card.id == LedgerAccount.owner_id)
            .where(
                LedgerAccount.owner_type == "card",
                LedgerAccount.code.in_((AccountCode.CARD.value, AccountCode.CARD_BONUS.value)),
                LedgerAccount.currency == currency,
                Card.merchant_id == merchant_id,
                Card.currency == currency,
                Card.status.in_([status.value for status in HOLDING_STATUSES]),
            )
        )
    ).one()
    # card accounts are liabilities (credit-normal): available = credits - debits - pending
    return int(credits or 0) - int(debits or 0) - int(pending or 0)


async def reserve_quota(
    session: AsyncSession, merchant_id: str, currency: str, amount: int
) -> None:
    """Lock the issuer's quota and check that ``amount`` more fits. Call before funding."""
    if amount <= 0:
        return
    quota = await _locked_quota(session, merchant_id, currency)
    outstanding = await outstanding_balance(session, merchant_id, currency)
    _check(outstanding, amount, quota, currency)


async def check_quota_after(
    session: AsyncSession, merchant_id: str, currency: str, amount: int
) -> None:
    """``amount`` was just posted to the issuer's cards in this transaction: lock the
    issuer's quota and check that what its cards now hold fits (see the module). Call it
    as the transaction's last step before it commits; raising, it leaves the posting to
    the caller's rollback (a savepoint around posting and check)."""
    if amount <= 0:
        return
    quota = await _locked_quota(session, merchant_id, currency)
    outstanding = await outstanding_balance(session, merchant_id, currency) - amount
    _check(outstanding, amount, quota, currency)


async def _locked_quota(session: AsyncSession, merchant_id: str, currency: str) -> int:
    row = await session.get(CardIssuerQuota, (merchant_id, currency), with_for_update=True)
    return row.quota if row is not None else 0


def _check(outstanding: int, amount: int, quota: int, currency: str) -> None:
    if outstanding + amount > quota:
        raise IssuerQuotaExceeded(
            f"The issuer's cards already hold {outstanding} {currency} (minor units); "
            f"{amount} more would exceed the issuing quota of {quota} the platform granted.",
            details={
                "outstanding": amount_detail(outstanding, currency),
                "amount": amount_detail(amount, currency),
                "quota": amount_detail(quota, currency),
            },
        )
