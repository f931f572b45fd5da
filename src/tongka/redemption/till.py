"""The till (收银台): redemption as a cashier's screen uses it (the console's cashier page).

What a till types is one text — a card number (with its secret) or a holder's payment code
scanned from their phone — so this module tells them apart (``is_payment_code``), turns the
code into its card inside the redemption's transaction, and calls the core's public
``service.redeem``; a declined purchase gives the code back (``payment_codes``). The
holder's confirmation (``challenge_required``) is answered by ``confirm_at_till``: the
challenge names the card, amount and terminal it was made for, so the cashier types only
the texted code (the secret or payment code was checked when the challenge was made).

It also answers what the till shows: a purchase's records, the store's recent redemptions
and the actions each one still allows (``available_actions``). Scoping: every read names
the merchant, and the store when the caller is bound to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import numbers
from tongka.cards.keys import CardKeys
from tongka.clock import ensure_utc
from tongka.config import Settings
from tongka.errors import InvalidRequest
from tongka.redemption import aftercare, service
from tongka.redemption.control_models import RedemptionChallenge
from tongka.redemption.errors import RedemptionNotFound
from tongka.redemption.models import Redemption, RedemptionRefund
from tongka.redemption.payment_codes import (
    give_back_payment_code,
    is_payment_code,
    resolve_payment_code,
)

RECENT = 20  # the store's latest redemptions a till shows
SECRET_NEEDED = "A card number needs the card's secret; a payment code needs none."


@dataclass(frozen=True)
class TillRequest:
    """One redemption typed at a till: ``card`` is a card number or a payment code."""

    merchant_id: str
    store_id: str | None
    terminal_id: str | None
    card: str
    secret: str
    amount: int
    currency: str
    allow_partial: bool
    idempotency_key: str
    actor: str


@dataclass(frozen=True)
class TillContext:
    """What every redemption call of a till needs besides the request."""

    keys: CardKeys
    fee_rate: Decimal
    now: datetime
    settings: Settings


async def redeem_at_till(
    session: AsyncSession, request: TillRequest, context: TillContext
) -> service.Purchase:
    """Redeem with a card number and secret, or a payment code (spent only if approved)."""
    digits = numbers.normalise(request.card)
    code = digits if is_payment_code(digits) and not request.secret else None
    if code is None and not request.secret:
        raise InvalidRequest(SECRET_NEEDED, code="field_required", param="secret")
    if code is not None:
        card_id = await resolve_payment_code(session, code, now=context.now)
        credential = service.CardCredential(card_id=card_id)
    else:
        credential = service.CardCredential(number=digits, secret=request.secret)
    purchase = await _redeem(session, request, credential, context, via_payment_code=bool(code))
    if code is not None and purchase.status == "declined" and not purchase.is_replay:
        await give_back_payment_code(session, code)
    return purchase


async def confirm_at_till(
    session: AsyncSession,
    challenge_id: str,
    code: str,
    request: TillRequest,
    context: TillContext,
) -> service.Purchase:
    """Redeem again with the holder's texted code, for the card and amount the challenge
    was made for (``request.card``, ``secret`` and ``amount`` are not read)."""
    challenge = await session.get(RedemptionChallenge, challenge_id)
    if challenge is None or challenge.merchant_id != request.merchant_id:
        raise InvalidRequest(
            "No such confirmation for this merchant.", code="challenge_invalid", param="code"
        )
    credential = service.CardCredential(card_id=challenge.card_id)
    confirmed = TillRequest(
        merchant_id=request.merchant_id,
        store_id=request.store_id,
        terminal_id=challenge.terminal_id,
        card="",
        secret="",
        amount=challenge.amount_minor,
        currency=challenge.currency,
        allow_partial=request.allow_partial,
        idempotency_key=request.idempotency_key,
        actor=request.actor,
    )
    return await _redeem(
        session, confirmed, credential, context, challenge_id=challenge_id, challenge_code=code
    )


async def _redeem(
    session: AsyncSession,
    request: TillRequest,
    credential: service.CardCredential,
    context: TillContext,
    *,
    via_payment_code: bool = False,
    challenge_id: str | None = None,
    challenge_code: str | None = None,
) -> service.Purchase:
    return await service.redeem(
        session,
        service.RedeemRequest(
            merchant_id=request.merchant_id,
            store_id=request.store_id,
            terminal_id=request.terminal_id,
            idempotency_key=request.idempotency_key,
            amount=request.amount,
            currency=request.currency,
            cards=[credential],
            actor=request.actor,
            allow_partial=request.allow_partial,
            via_payment_code=via_payment_code,
            challenge_id=challenge_id,
            challenge_code=challenge_code,
        ),
        keys=context.keys,
        fee_rate=context.fee_rate,
        now=context.now,
        settings=context.settings,
    )


def _scoped(merchant_id: str, store_id: str | None) -> Select[tuple[Redemption]]:
    statement = select(Redemption).where(Redemption.merchant_id == merchant_id)
    if store_id is not None:
        statement = statement.where(Redemption.store_id == store_id)
    return statement


async def purchase_records(
    session: AsyncSession, purchase_id: str, *, merchant_id: str, store_id: str | None
) -> list[Redemption]:
    """A purchase's records (its answer), if it is this merchant's (and store's)."""
    statement = _scoped(merchant_id, store_id).where(Redemption.purchase_id == purchase_id)
    return list((await session.scalars(statement.order_by(Redemption.id))).all())


async def recent_at_store(
    session: AsyncSession, *, merchant_id: str, store_id: str, limit: int = RECENT
) -> list[Redemption]:
    statement = _scoped(merchant_id, store_id).order_by(
        Redemption.created_at.desc(), Redemption.id.desc()
    )
    return list((await session.scalars(statement.limit(limit))).all())


async def record_for_till(
    session: AsyncSession, redemption_id: str, *, merchant_id: str, store_id: str | None
) -> Redemption:
    """One record of this merchant (and store), locked for a refund, void or reversal."""
    record = await session.get(Redemption, redemption_id, with_for_update=True)
    if (
        record is None
        or record.merchant_id != merchant_id
        or (store_id is not None and record.store_id != store_id)
    ):
        raise RedemptionNotFound("No such redemption.", details={"object": "redemption"})
    return record


async def pending_challenge(
    session: AsyncSession, challenge_id: str, *, merchant_id: str, now: datetime
) -> RedemptionChallenge | None:
    """The challenge a till may still answer (pending, unexpired, this merchant's)."""
    challenge = await session.get(RedemptionChallenge, challenge_id)
    if (
        challenge is None
        or challenge.merchant_id != merchant_id
        or challenge.status != "pending"
        or ensure_utc(challenge.expires_at) <= now
    ):
        return None
    return challenge


def available_actions(record: Redemption, now: datetime) -> frozenset[str]:
    """What a till may still do with a record: ``refund`` (value was taken and not all
    given back), ``void`` (an open hold), ``reverse`` (冲正: undo the whole purchase)."""
    actions: set[str] = set()
    taken = record.status in ("approved", "captured") and record.amount > record.refunded
    is_open_hold = record.status == "authorized" and not aftercare.is_hold_expired(record, now)
    if taken:
        actions.update(("refund", "reverse"))
    if is_open_hold:
        actions.update(("void", "reverse"))
    return frozenset(actions)


async def refund_at_till(
    session: AsyncSession,
    record: Redemption,
    amount: int | None,
    *,
    refund_key: str,
    reason: str | None,
    actor: str,
    now: datetime,
) -> RedemptionRefund:
    """Refund ``amount`` (None: all that is left) once per ``refund_key``: the same form
    sent twice answers its first refund."""
    done = await session.get(RedemptionRefund, aftercare.refund_id_of(record.id, refund_key))
    if done is not None:
        return done
    left = record.amount - record.refunded
    return await aftercare.refund(
        session,
        record,
        left if amount is None else amount,
        refund_key=refund_key,
        reason=reason,
        actor=actor,
        now=now,
    )
