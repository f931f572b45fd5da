"""Demo data for the ledger: platform accounts, two cards, a merchant, a few transfers.

Fixed account and transfer ids make it idempotent: a second run replays every posting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.demo import DemoContext
from tongka.ledger.accounts import open_account
from tongka.ledger.posting import post_transfers
from tongka.ledger.system_accounts import system_account
from tongka.ledger.types import AccountCode, AccountSpec, AccountType, TransferRequest

CURRENCY = "CNY"
DEMO_CARDS = ("demo:card:1", "demo:card:2")
DEMO_MERCHANT = "demo:merchant_payable:1"


async def seed(session: AsyncSession, context: DemoContext, now: datetime) -> None:
    reserve = await system_account(session, AccountCode.RESERVE_BANK, CURRENCY, now=now)
    equity = await system_account(session, AccountCode.OPENING_EQUITY, CURRENCY, now=now)
    fees = await system_account(session, AccountCode.FEE_INCOME, CURRENCY, now=now)
    for card in DEMO_CARDS:
        await open_account(
            session,
            AccountSpec(
                account_id=card,
                currency=CURRENCY,
                type=AccountType.LIABILITY,
                code=AccountCode.CARD,
                owner_type="demo",
                debits_must_not_exceed_credits=True,
            ),
            now=now,
        )
    await open_account(
        session,
        AccountSpec(
            account_id=DEMO_MERCHANT,
            currency=CURRENCY,
            type=AccountType.LIABILITY,
            code=AccountCode.MERCHANT_PAYABLE,
            owner_type="demo",
            hot=True,
        ),
        now=now,
    )

    def transfer(
        transfer_id: str, debit: str, credit: str, amount: int, code: str
    ) -> TransferRequest:
        return TransferRequest(
            transfer_id=f"demo:{transfer_id}",
            debit_account_id=debit,
            credit_account_id=credit,
            amount=amount,
            currency=CURRENCY,
            code=code,
        )

    await post_transfers(
        session, [transfer("capital", reserve, equity, 10_000_000, "opening_balance")], now=now
    )
    for number, card in enumerate(DEMO_CARDS, start=1):
        await post_transfers(
            session, [transfer(f"top-up-{number}", reserve, card, 50_000, "top_up")], now=now
        )
    # A redemption of 120.00 at the demo merchant, 0.30% fee: one atomic group.
    await post_transfers(
        session,
        [
            transfer("redeem-1-merchant", DEMO_CARDS[0], DEMO_MERCHANT, 11_964, "redemption"),
            transfer("redeem-1-fee", DEMO_CARDS[0], fees, 36, "redemption_fee"),
        ],
        now=now,
    )
    context.objects["ledger"] = {
        "reserve_bank": reserve,
        "fee_income": fees,
        "cards": list(DEMO_CARDS),
        "merchant_payable": DEMO_MERCHANT,
    }
