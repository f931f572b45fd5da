"""Returning a card under the regulation (退卡): its paid value paid out to the holder, its
bonus forfeited, the card closed.

The holder asks (the consumer API), or a merchant of the card's issuer on the holder's
behalf (its till or console). ``start_return`` does it all in one transaction, through the
card gate (purpose ``card_return``, an active card only) with the rules of
``return_rules`` checked first and the amount rules under the gate's lock:

* **bank account** (any amount): the account must be in the holder's own name (the holder's
  verified name); its number is sealed with ``tongka.crypto`` bound to the return's id and
  shown masked. The paid value moves card → the card-returns payable
  (``returns_payable:<currency>``, owed to holders being paid) and the return is ``paying``;
  ``pay_returns`` (the worker job ``sales.pay_card_returns``) submits it to the payout
  channel under its key ``<return id>``, in its own short transactions like settlement
  payouts: accepted → payable → reserve bank, ``paid``; rejected → ``rejected`` (the value
  stays owed in the payable; see the README); no answer → ``unknown``, asked again by key.
* **cash** (a merchant at its till, ``cash_max_minor`` ¥100 or less): the merchant hands the
  cash over, so the paid value moves card → that merchant's payable (what the platform owes
  it, settled with its takings, the mirror of a cash top-up) and the return is
  ``paid_cash`` at once.
* **bonus** never pays out: each order's bonus still on the card goes back to its promotion
  (``take_back_bonus``, as order refunds do); bonus left beyond what orders account for goes
  back to the issuer's payable. The card is then empty and ``closed``.

Idempotent on the return id (from the caller's Idempotency-Key): a replay answers the first
return; a second return of one card is refused (``card_return_exists``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.cards import accounts
from tongka.cards.lifecycle import card_event, close, get_card
from tongka.cards.models import Card
from tongka.cards.money_gate import CardMovement, Direction, LockedCards, Purpose, move_card_value
from tongka.cards.products import get_product
from tongka.config import Settings
from tongka.crypto import derive_key, encrypt
from tongka.errors import Conflict, InvalidRequest, NotFound
from tongka.events import record_event
from tongka.identity.merchants import masked_account_number
from tongka.identity.models import Consumer
from tongka.ledger import AccountCode, AccountSpec, AccountType, TransferRequest
from tongka.payments.parties import mask_name
from tongka.redemption.fees import merchant_payable_account
from tongka.sales import fulfilment
from tongka.sales.models import Order, OrderRefund
from tongka.sales.return_models import CardReturn
from tongka.sales.return_rules import (
    ReturnFacts,
    ReturnMethod,
    check_amount,
    check_return,
    get_return_rules,
)

__all__ = [
    "BankAccount",
    "ReturnRequest",
    "account_binding",
    "account_key",
    "checked_account",
    "card_returns_query",
    "get_card_return",
    "returns_payable_account",
    "start_return",
]

KEY_PURPOSE = "card-return-bank-account"


class CardReturnNotFound(NotFound):
    code = "card_return_not_found"


class CardReturnExists(Conflict):
    code = "card_return_exists"


class CardReturnInvalid(InvalidRequest):
    code = "card_return_invalid"


@dataclass(frozen=True)
class BankAccount:
    bank_name: str
    account_name: str
    account_number: str


@dataclass(frozen=True)
class ReturnRequest:
    card_id: str
    method: ReturnMethod
    actor: str
    account: BankAccount | None = None
    merchant_id: str | None = None  # a merchant's caller: the issuer's scope
    store_id: str | None = None  # a store-bound till
    holder_id: str | None = None  # the holder's own request


def account_key(settings: Settings) -> bytes:
    return derive_key(settings.secret_key_bytes(), KEY_PURPOSE)


def account_binding(return_id: str, attempt: int) -> str:
    """What a return's sealed account number is bound to: the return (its first account),
    then each retry's attempt (``return_retries``), so one attempt's seal never opens
    as another's."""
    return return_id if attempt <= 1 else f"{return_id}:{attempt}"


def returns_payable_id(currency: str) -> str:
    return f"returns_payable:{currency}"


async def returns_payable_account(session: AsyncSession, currency: str, *, now: datetime) -> str:
    """What the platform owes holders whose returns are being paid out (opened on first use)."""
    account_id = returns_payable_id(currency)
    await ledger.open_account(
        session,
        AccountSpec(
            account_id=account_id,
            currency=currency,
            type=AccountType.LIABILITY,
            code=AccountCode.RETURN_PAYABLE,
            owner_type="platform",
        ),
        now=now,
    )
    return account_id


def checked_account(account: BankAccount | None) -> BankAccount:
    if account is None:
        raise CardReturnInvalid(
            "A return to a bank account names the account.", param="bank_account"
        )
    number = account.account_number.replace(" ", "")
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise CardReturnInvalid(
            "A bank account number is 8 to 32 digits.", param="bank_account.account_number"
        )
    if not account.bank_name.strip() or not account.account_name.strip():
        raise CardReturnInvalid(
            "Name the bank and the account holder.", param="bank_account.account_name"
        )
    return BankAccount(account.bank_name.strip(), account.account_name.strip(), number)


async def _bonus_owners(session: AsyncSession, card_id: str) -> list[tuple[Order, int]]:
    """The card's orders whose bonus may still be on it, newest first, with what of each
    earlier refunds have not taken back yet."""
    orders = (
        await session.scalars(
            select(Order)
            .where(
                Order.card_id == card_id,
                Order.bonus_minor > 0,
                Order.bonus_account_id.is_not(None),
            )
            .order_by(Order.created_at.desc())
        )
    ).all()
    owners = []
    for order in orders:
        taken = await session.scalar(
            select(func.coalesce(func.sum(OrderRefund.bonus_minor), 0)).where(
                OrderRefund.order_id == order.id
            )
        )
        owners.append((order, order.bonus_minor - int(taken or 0)))
    return owners


async def start_return(
    session: AsyncSession,
    request: ReturnRequest,
    *,
    return_id: str,
    now: datetime,
    settings: Settings,
) -> CardReturn:
    """Check, move the value, close the card, record the return (see the module). Raises
    ``CardNotFound`` (out of scope too), ``ReturnRefused`` (its rule), ``CardReturnExists``,
    ``CardReturnInvalid``, the gate's errors; whatever is raised, nothing was written."""
    existing = await session.get(CardReturn, return_id)
    if existing is not None:
        if existing.card_id != request.card_id:
            raise CardReturnExists(
                "This idempotency key was used to return another card.", param="card_id"
            )
        return existing
    card = await get_card(
        session,
        request.card_id,
        merchant_id=request.merchant_id,
        holder_id=request.holder_id,
        lock=True,
    )
    if await session.scalar(select(CardReturn.id).where(CardReturn.card_id == card.id)):
        raise CardReturnExists("The card was returned already.", param="card_id")
    method = ReturnMethod(request.method)
    account = checked_account(request.account) if method is ReturnMethod.BANK_ACCOUNT else None
    product = await get_product(session, card.product_id)
    holder = await session.get(Consumer, card.holder_id) if card.holder_id else None
    rules = await get_return_rules(session)
    facts = ReturnFacts(
        method=method,
        currency=card.currency,
        is_named=product.is_named,
        has_holder=holder is not None,
        holder_verified_name=holder.verified_name if holder is not None else None,
        account_name=account.account_name if account is not None else None,
        is_at_till=request.merchant_id is not None,
    )
    check_return(facts, rules)
    if method is ReturnMethod.CASH:
        assert request.merchant_id is not None
        paid_to = await merchant_payable_account(
            session, request.merchant_id, card.currency, now=now
        )
    else:
        paid_to = await returns_payable_account(session, card.currency, now=now)
    issuer_payable = await merchant_payable_account(
        session, card.merchant_id, card.currency, now=now
    )
    owners = await _bonus_owners(session, card.id)
    moved: dict[str, int] = {}
    taken_back: list[tuple[str, int]] = []

    def transfers(locked: LockedCards) -> list[TransferRequest]:
        balance = locked.balances[card.id]
        check_amount(facts, rules, balance.paid)
        moved["paid"], moved["bonus"] = balance.paid, balance.bonus
        requests = [
            TransferRequest(
                transfer_id=f"card_return:{return_id}",
                debit_account_id=accounts.main_account_id(card.id),
                credit_account_id=paid_to,
                amount=balance.paid,
                currency=card.currency,
                code="card_return",
                reference=card.id,
                metadata={"card_id": card.id, "return_id": return_id, "method": method.value},
            )
        ]
        bonus_left = balance.bonus
        for order, due in owners:
            back = min(due, bonus_left)
            if back <= 0 or order.bonus_account_id is None:
                continue
            bonus_left -= back
            taken_back.append((order.id, back))
            requests.append(
                _bonus_transfer(card, return_id, order.id, order.bonus_account_id, back)
            )
        if bonus_left > 0:  # bonus no order accounts for: forfeited to the issuer
            requests.append(_bonus_transfer(card, return_id, "issuer", issuer_payable, bonus_left))
        return requests

    gated = await move_card_value(
        session, [CardMovement(card.id, Direction.DEBIT, Purpose.CARD_RETURN)], transfers, now=now
    )
    promotions = fulfilment.promotions_part()
    for order_id, back in taken_back:
        if promotions is not None:
            await promotions.take_back_bonus(
                session, order_id, amount_minor=back, refund_id=f"return-{return_id}", now=now
            )
    locked_card = gated.cards[card.id]
    close(locked_card, now)
    await card_event(
        session, locked_card, "card.closed", actor=request.actor, now=now, reason="returned"
    )
    row = CardReturn(
        id=return_id,
        card_id=card.id,
        merchant_id=card.merchant_id,
        store_id=request.store_id,
        holder_id=card.holder_id,
        method=method.value,
        status="paid_cash" if method is ReturnMethod.CASH else "paying",
        amount_minor=moved["paid"],
        bonus_minor=moved["bonus"],
        currency=card.currency,
        bank_name=account.bank_name if account else None,
        account_name=mask_name(account.account_name) if account else None,
        account_number_encrypted=(
            encrypt(account_key(settings), account.account_number, associated_data=return_id)
            if account
            else None
        ),
        account_last4=account.account_number[-4:] if account else None,
        payout_key=return_id if account else None,
        actor=request.actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await return_event(session, row, "card_return.created", now, actor=request.actor)
    if method is ReturnMethod.CASH:
        await return_event(session, row, "card_return.paid", now, actor=request.actor)
    return row


def _bonus_transfer(
    card: Card, return_id: str, part: str, credit_account_id: str, amount: int
) -> TransferRequest:
    return TransferRequest(
        transfer_id=f"card_return:{return_id}:bonus:{part}",
        debit_account_id=accounts.bonus_account_id(card.id),
        credit_account_id=credit_account_id,
        amount=amount,
        currency=card.currency,
        code="card_return_bonus",
        reference=card.id,
        metadata={"card_id": card.id, "return_id": return_id},
    )


async def return_event(
    session: AsyncSession, row: CardReturn, type: str, now: datetime, *, actor: str
) -> None:
    await record_event(
        session,
        type=type,
        object_type="card_return",
        object_id=row.id,
        actor=actor,
        now=now,
        merchant_id=row.merchant_id,
        data={
            "card_id": row.card_id,
            "method": row.method,
            "status": row.status,
            "amount": row.amount_minor,
            "bonus_forfeited": row.bonus_minor,
            "currency": row.currency,
            "account": masked_account_number(row.account_last4),
            "reason": row.failure_reason,
        },
    )


def card_returns_query(
    *, merchant_id: str | None, holder_id: str | None = None, store_id: str | None = None
) -> Select[tuple[CardReturn]]:
    statement = select(CardReturn)
    if merchant_id is not None:
        statement = statement.where(CardReturn.merchant_id == merchant_id)
    if store_id is not None:
        statement = statement.where(CardReturn.store_id == store_id)
    if holder_id is not None:
        statement = statement.where(CardReturn.holder_id == holder_id)
    return statement


async def get_card_return(
    session: AsyncSession,
    return_id: str,
    *,
    merchant_id: str | None = None,
    holder_id: str | None = None,
    store_id: str | None = None,
) -> CardReturn:
    statement = card_returns_query(
        merchant_id=merchant_id, holder_id=holder_id, store_id=store_id
    ).where(CardReturn.id == return_id)
    found = await session.scalar(statement.execution_options(populate_existing=True))
    if found is None:
        raise CardReturnNotFound("No such card return.", param="return_id")
    return found
