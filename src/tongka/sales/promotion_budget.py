"""A promotion's money: the budget moves from the merchant's own account (its payable, what
the platform owes it) into the promotion's budget account when the promotion starts, and
what no order claimed moves back when it ends.

Only non-card accounts are touched here (``tests/unit/test_card_gate_scan.py`` lists this
module in ``NON_CARD_POSTERS``); the bonus reaches a card only through ``cards.money_gate``
(``promotions.post_bonus``). The budget account is a liability like the payable it comes
from, so funding changes neither customer money nor what it must cover (``ledger.cover``);
it may never go below zero.

Why the payable must hold the budget: the merchant funds its promotion with money the
platform owes it. The check runs under a lock on the merchant's row, so two promotions of
one merchant are funded one after the other; a payout running meanwhile may still take the
payable below zero, which the next settlement batch nets like any other movement on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.errors import amount_detail
from tongka.identity.models import Merchant
from tongka.ledger import AccountCode, AccountSpec, AccountType, TransferRequest
from tongka.ledger.accounts import load_accounts
from tongka.redemption.fees import merchant_payable_account
from tongka.sales.promotion_errors import PromotionFundsInsufficient

FUNDING_CODE = "promotion_funding"
RETURN_CODE = "promotion_return"


def budget_account_id(promotion_id: str, currency: str) -> str:
    return f"promotion:{promotion_id}:{currency}"


def budget_account_spec(promotion_id: str, currency: str) -> AccountSpec:
    return AccountSpec(
        account_id=budget_account_id(promotion_id, currency),
        currency=currency,
        type=AccountType.LIABILITY,
        code=AccountCode.PROMOTION_BUDGET,
        owner_type="promotion",
        owner_id=promotion_id,
        debits_must_not_exceed_credits=True,
    )


async def fund_budget(
    session: AsyncSession,
    *,
    merchant_id: str,
    promotion_id: str,
    currency: str,
    amount_minor: int,
    now: datetime,
) -> str:
    """Open the promotion's budget account and move ``amount_minor`` into it from the
    merchant's payable (``PromotionFundsInsufficient`` if the payable holds less). Returns
    the budget account's id. Idempotent per promotion (the transfer id names it)."""
    await session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())
    payable = await merchant_payable_account(session, merchant_id, currency, now=now)
    available = (await ledger.get_balance(session, payable)).available
    if available < amount_minor:
        raise PromotionFundsInsufficient(
            "The merchant's account holds less than the budget.",
            param="budget",
            details={
                "available": amount_detail(available, currency),
                "budget": amount_detail(amount_minor, currency),
            },
        )
    spec = budget_account_spec(promotion_id, currency)
    await ledger.open_account(session, spec, now=now)
    await ledger.post_transfers(
        session,
        [
            TransferRequest(
                transfer_id=f"{FUNDING_CODE}:{promotion_id}",
                debit_account_id=payable,
                credit_account_id=spec.account_id,
                amount=amount_minor,
                currency=currency,
                code=FUNDING_CODE,
                metadata={"promotion_id": promotion_id},
            )
        ],
        now=now,
    )
    return spec.account_id


async def return_budget(
    session: AsyncSession,
    *,
    merchant_id: str,
    promotion_id: str,
    budget_account: str,
    currency: str,
    amount_minor: int,
    part: str,
    now: datetime,
) -> None:
    """Move ``amount_minor`` of the budget back to the merchant's payable. ``part`` makes
    the transfer id (``end`` when the promotion ends, a claim's id when a claim is given
    back after the end), so each return happens once. Nothing moves for zero."""
    if amount_minor <= 0:
        return
    known = await load_accounts(session, [budget_account], missing_ok=True)
    if budget_account not in known:
        return
    payable = await merchant_payable_account(session, merchant_id, currency, now=now)
    await ledger.post_transfers(
        session,
        [
            TransferRequest(
                transfer_id=f"{RETURN_CODE}:{promotion_id}:{part}",
                debit_account_id=budget_account,
                credit_account_id=payable,
                amount=amount_minor,
                currency=currency,
                code=RETURN_CODE,
                metadata={"promotion_id": promotion_id},
            )
        ],
        now=now,
    )
