"""Card accounts in the ledger: opening, naming, balances, system accounts.

A card has two liability accounts, opened when it is activated (an issued, unsold card
holds no money): the paid part (code ``card``) and the bonus part (``card_bonus``, 充值赠送),
so merging or reissuing keeps the two apart. Both forbid going below zero. Both are named
after the card (``card_of_account`` reverses it), which lets the money gate
(``money_gate.py``, the only code that posts card transfers) tell a card account from any
other by its id alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.cards.models import Card
from tongka.ledger import AccountCode, AccountSpec, AccountType, TransferRequest
from tongka.ledger.system_accounts import system_account as ledger_system_account


def main_account_id(card_id: str) -> str:
    return card_id


def bonus_account_id(card_id: str) -> str:
    return f"{card_id}{BONUS_SUFFIX}"


CARD_ID_PREFIX = "card_"  # ``tongka.ids.new_id("card")``
BONUS_SUFFIX = "_bonus"


def card_of_account(account_id: str) -> str | None:
    """The card whose account ``account_id`` is, or ``None`` for any other account."""
    if not account_id.startswith(CARD_ID_PREFIX):
        return None
    return account_id.removesuffix(BONUS_SUFFIX)


def _specs(card: Card) -> list[AccountSpec]:
    return [
        AccountSpec(
            account_id=account_id,
            currency=card.currency,
            type=AccountType.LIABILITY,
            code=code,
            owner_type="card",
            owner_id=card.id,
            debits_must_not_exceed_credits=True,
        )
        for account_id, code in (
            (main_account_id(card.id), AccountCode.CARD),
            (bonus_account_id(card.id), AccountCode.CARD_BONUS),
        )
    ]


async def open_card_accounts(
    session: AsyncSession, cards: Iterable[Card], *, now: datetime
) -> None:
    specs = [spec for card in cards for spec in _specs(card)]
    await ledger.open_accounts(session, specs, now=now)


@dataclass(frozen=True)
class CardBalance:
    paid: int
    bonus: int

    @property
    def total(self) -> int:
        return self.paid + self.bonus


ZERO = CardBalance(paid=0, bonus=0)


def has_accounts(card: Card) -> bool:
    return card.activated_at is not None


async def card_balances(session: AsyncSession, cards: Sequence[Card]) -> dict[str, CardBalance]:
    """Available balances (pending holds deducted); zero for cards never activated."""
    funded = [card for card in cards if has_accounts(card)]
    ids = [main_account_id(c.id) for c in funded] + [bonus_account_id(c.id) for c in funded]
    balances = await ledger.get_balances(session, ids) if ids else {}
    result = {card.id: ZERO for card in cards}
    for card in funded:
        result[card.id] = CardBalance(
            paid=balances[main_account_id(card.id)].available,
            bonus=balances[bonus_account_id(card.id)].available,
        )
    return result


async def card_balance(session: AsyncSession, card: Card) -> CardBalance:
    return (await card_balances(session, [card]))[card.id]


async def system_account(
    session: AsyncSession, code: AccountCode, currency: str, *, now: datetime
) -> str:
    """The platform's account of ``code`` in ``currency`` (reserve bank, breakage income)."""
    return await ledger_system_account(session, code, currency, now=now)


def moves_of_balance(
    source: Card,
    target_id: str,
    balance: CardBalance,
    *,
    transfer_prefix: str,
    code: str,
    reference: str | None = None,
) -> list[TransferRequest]:
    """Transfers that move a card's whole balance onto another card, part by part."""
    moves = []
    for part, amount, account_of in (
        ("paid", balance.paid, main_account_id),
        ("bonus", balance.bonus, bonus_account_id),
    ):
        if amount > 0:
            moves.append(
                TransferRequest(
                    transfer_id=f"{transfer_prefix}:{source.id}:{part}",
                    debit_account_id=account_of(source.id),
                    credit_account_id=account_of(target_id),
                    amount=amount,
                    currency=source.currency,
                    code=code,
                    reference=reference,
                    metadata={"card_id": source.id, "to_card_id": target_id, "part": part},
                )
            )
    return moves
