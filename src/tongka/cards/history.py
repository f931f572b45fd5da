"""A card's transaction history, read from the ledger (both the paid and the bonus part)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.cards import accounts
from tongka.cards.models import Card
from tongka.ledger import Transfer


@dataclass(frozen=True)
class CardTransaction:
    """One movement on the card, signed from the holder's view (+ in, - out)."""

    transfer: Transfer
    part: str  # "paid" or "bonus"
    amount: int  # signed


@dataclass(frozen=True)
class HistoryPage:
    data: list[CardTransaction]
    has_more: bool


def _signed(transfer: Transfer, account_id: str) -> int:
    return transfer.amount if transfer.credit_account_id == account_id else -transfer.amount


async def card_history(
    session: AsyncSession, card: Card, *, limit: int, after_sequence: int | None = None
) -> HistoryPage:
    """Movements in ledger order, ``limit`` per page, continuing after ``after_sequence``."""
    if not accounts.has_accounts(card):
        return HistoryPage(data=[], has_more=False)
    movements: list[CardTransaction] = []
    for part, account_id in (
        ("paid", accounts.main_account_id(card.id)),
        ("bonus", accounts.bonus_account_id(card.id)),
    ):
        transfers = await ledger.list_transfers(
            session, account_id, limit=limit + 1, after_sequence=after_sequence
        )
        movements += [
            CardTransaction(transfer=t, part=part, amount=_signed(t, account_id)) for t in transfers
        ]
    movements.sort(key=lambda movement: movement.transfer.sequence)
    return HistoryPage(data=movements[:limit], has_more=len(movements) > limit)
