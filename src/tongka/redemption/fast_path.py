"""The fast path of ``service.redeem`` on PostgreSQL: one card, the common case, without
the ORM's per-object work (issue #12 "Speed").

``service.redeem`` claims the key and checks the place as always, then calls
``redeem_one`` when ``applies``: PostgreSQL, ``settings.redemption_fast_path``, a
redemption (not a hold) of one card named by number and secret, without a share, a
payment code or a challenge answer. ``redeem_one`` reads the card *and its product* in one
hand-written statement that locks the card row (``FOR UPDATE OF c``: the same lock the
ORM path's ``find_card`` takes), and answers ``None`` — nothing written, the ORM path goes
on from there with the row still locked — unless the card is the plain case:

* found, not locked, the secret right and no wrong-secret count to reset;
* active, not past its expiry, in the request's currency;
* the accepting merchant is the issuer and the product is not limited to listed stores
  (``is_accepted_at``'s first answer; agreements and store lists go the ORM way).

Then the same steps as the ORM path, in the same order and with the same functions where
they are not ORM-bound: the decision point (``decide``: limits reserved, a decline or a
challenge recorded), the balances read under the lock (``ledger.get_balances``), the
decline ``insufficient_funds`` (and ``release`` of the reserved use), the same transfers
(``card_transfers``, ``split_parts``, ``card_fee``) posted through the card money gate
(``money_gate.move_value_of_locked_card``: the status checked against the gate's table and
every transfer covered by the movement, as ``move_card_value`` does), the same records and
events (``records.purchase_record_rows`` / ``event_of``) written in one statement that also
tells whether the merchant has a webhook endpoint (then its deliveries are added as
``record_event`` adds them). What it skips is what the gate would re-do for a card it has
just locked here: the second lock and re-read (``lock_cards``). ``tests/pg/
test_redemption_fast_path.py`` runs the same scenarios through both paths and compares
answers and ledger state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from tongka import ledger
from tongka.cards import accounts, numbers
from tongka.cards.acceptance import Acceptance
from tongka.cards.issuing import CardStatus
from tongka.cards.keys import CardKeys
from tongka.cards.money_gate import (
    CardLockedByCaller,
    CardMovement,
    Direction,
    Purpose,
    move_value_of_locked_card,
)
from tongka.clock import ensure_utc
from tongka.config import Settings, get_settings
from tongka.db.statements import DriverStatement, dialect_of, fetch_one
from tongka.events.models import Event
from tongka.ids import new_id
from tongka.redemption.decision_point import decide, release
from tongka.redemption.fees import fee_income_account, merchant_payable_account
from tongka.redemption.models import Redemption
from tongka.redemption.movement import card_fee, card_transfers, split_parts
from tongka.redemption.purchase import (
    Purchase,
    RedeemRequest,
    decision_request,
    redemption_id_of,
)
from tongka.redemption.records import (
    RECORD_COLUMNS,
    event_of,
    orm_records,
    purchase_record_rows,
)
from tongka.webhooks.fanout import enqueue_deliveries

# what ``plain_card`` reads of a card and its product, in this order
CARD_AND_PRODUCT_COLUMNS = (
    "c.id, c.merchant_id, c.product_id, c.holder_id, c.secret_hash, c.status,"
    " c.currency, c.failed_secret_attempts, c.locked_until, c.expires_at,"
    " c.activated_at, p.merchant_id, p.acceptance, p.is_bonus_spent_first"
)
CARD_AND_PRODUCT = DriverStatement(
    text(
        f"SELECT {CARD_AND_PRODUCT_COLUMNS}"
        " FROM cards AS c JOIN card_products AS p ON p.id = c.product_id"
        " WHERE c.number_index = :number_index"
        " FOR UPDATE OF c"
    )
)


# The record, its event, and whether the merchant has a webhook endpoint that may want the
# event (then its deliveries are added as ``record_event`` adds them): one round trip.
RECORD_AND_EVENT = DriverStatement(
    text(
        "WITH record AS (INSERT INTO redemptions ("
        + ", ".join(RECORD_COLUMNS)
        + ") VALUES ("
        + ", ".join(f":{name}" for name in RECORD_COLUMNS)
        + ")), event AS (INSERT INTO events"
        " (id, type, object_type, object_id, merchant_id, actor, data, created_at)"
        " VALUES (:event_id, :event_type, :kind, :id, :merchant_id, :actor, :data,"
        " :created_at))"
        " SELECT count(*) FROM webhook_endpoints"
        " WHERE merchant_id = :merchant_id AND status = 'enabled'"
    ).bindparams(bindparam("data", type_=JSON))
)


@dataclass(frozen=True)
class CardRow:
    """The card as the fast path read it (``CardFacts`` for the shared helpers)."""

    id: str
    merchant_id: str
    product_id: str
    holder_id: str | None
    is_bonus_spent_first: bool
    status: str


def applies(session: AsyncSession, request: RedeemRequest, settings: Settings | None) -> bool:
    """Whether ``redeem_one`` may be tried for this request (see the module)."""
    if not (settings or get_settings()).redemption_fast_path:
        return False
    return is_plain_request(request) and dialect_of(session) == "postgresql"


def is_plain_request(request: RedeemRequest) -> bool:
    """A redemption (not a hold) of one card named by number and secret, without a share,
    a payment code or a challenge answer: what the fast path and the lane may try."""
    if request.kind != "redemption" or len(request.cards) != 1:
        return False
    card = request.cards[0]
    return (
        card.card_id is None
        and card.share is None
        and card.number is not None
        and card.secret is not None
        and not request.via_payment_code
        and request.challenge_id is None
        and request.challenge_code is None
    )


async def _plain_card(
    session: AsyncSession, request: RedeemRequest, keys: CardKeys, now: datetime
) -> CardRow | None:
    """The card, locked, if it is the plain case; ``None`` for the ORM path to answer."""
    await session.flush()  # the raw read must see the session's pending changes too
    digits = numbers.normalise(request.cards[0].number or "")
    row = await fetch_one(session, CARD_AND_PRODUCT, {"number_index": keys.number_index(digits)})
    return None if row is None else plain_card(row, request, keys, now)


def plain_card(row: Any, request: RedeemRequest, keys: CardKeys, now: datetime) -> CardRow | None:
    """The card of ``row`` (``CARD_AND_PRODUCT``'s columns) if this one-card request on it
    is the plain case (see the module), else ``None``: the ORM path answers."""
    credential = request.cards[0]
    (card_id, issuer, product_id, holder_id, secret_hash, status, currency, failed) = row[:8]
    locked_until, expires_at, activated_at, product_issuer, acceptance, bonus_first = row[8:14]
    if locked_until is not None and ensure_utc(locked_until) > now:
        return None
    if failed or not keys.secret_matches(credential.secret or "", card_id, secret_hash):
        return None
    if status != CardStatus.ACTIVE or activated_at is None:
        return None
    if expires_at is not None and ensure_utc(expires_at) <= now:
        return None
    if currency != request.currency or request.merchant_id != product_issuer:
        return None
    if acceptance == Acceptance.STORES:
        return None
    return CardRow(card_id, issuer, product_id, holder_id, bool(bonus_first), status)


async def redeem_one(
    session: AsyncSession,
    request: RedeemRequest,
    purchase_id: str,
    *,
    keys: CardKeys,
    fee_rate: Decimal,
    now: datetime,
    settings: Settings | None,
) -> Purchase | None:
    """The purchase's answer, or ``None`` (nothing written) for the ORM path to give."""
    card = await _plain_card(session, request, keys, now)
    if card is None:
        return None
    share = request.amount
    asked = decision_request(card, request, share)
    answer = await decide(session, asked, now=now, settings=settings)
    if answer.outcome != "allow":
        return await _answer(
            session,
            request,
            purchase_id,
            card,
            answer.code,
            None,
            None,
            fee_rate,
            now,
            challenge_id=answer.challenge_id,
        )
    main, bonus = accounts.main_account_id(card.id), accounts.bonus_account_id(card.id)
    balances = await ledger.get_balances(session, [main, bonus])
    paid_left, bonus_left = balances[main].available, balances[bonus].available
    total = paid_left + bonus_left
    take = min(total, share) if request.allow_partial else share
    if total < share and not request.allow_partial or take <= 0:
        await release(session, asked, now=now, settings=settings)
        return await _answer(
            session, request, purchase_id, card, None, "insufficient_funds", None, fee_rate, now
        )
    paid, bonus_part = split_parts(
        paid_left, bonus_left, take, bonus_first=card.is_bonus_spent_first
    )
    payable = await merchant_payable_account(
        session, request.merchant_id, request.currency, now=now
    )
    fee_account = await fee_income_account(session, request.currency, now=now)
    rid = redemption_id_of(request.merchant_id, request.idempotency_key, 0)
    transfers = card_transfers(
        rid,
        card.id,
        paid,
        bonus_part,
        card_fee(take, request.currency, fee_rate, card),
        payable,
        fee_account,
        request.currency,
    )
    await move_value_of_locked_card(
        session,
        CardLockedByCaller(card.id, card.status),
        CardMovement(card.id, Direction.DEBIT, Purpose.REDEMPTION),
        transfers,
        now=now,
    )
    return await _answer(
        session,
        request,
        purchase_id,
        card,
        None,
        None,
        ((paid, bonus_part), total - take),
        fee_rate,
        now,
    )


async def _answer(
    session: AsyncSession,
    request: RedeemRequest,
    purchase_id: str,
    card: CardRow,
    code: str | None,
    decline: str | None,
    taken: tuple[tuple[int, int], int] | None,
    fee_rate: Decimal,
    now: datetime,
    *,
    challenge_id: str | None = None,
) -> Purchase:
    """Record the purchase as the ORM path does (``code``: the decision point's; ``decline``:
    the purchase's own, ``insufficient_funds``) and answer it."""
    decline = decline or code
    takes = [taken[0] if taken is not None else (0, 0)]
    after: list[int | None] = [taken[1] if taken is not None else None]
    records = orm_records(
        purchase_record_rows(
            request,
            purchase_id,
            [(card, code)],
            [request.amount],
            [code],
            decline,
            takes,
            after,
            fee_rate=fee_rate,
            now=now,
        )
    )
    await _write(session, records[0], now)
    return Purchase(
        id=purchase_id,
        status="declined" if decline else "approved",
        amount=request.amount,
        taken=sum(record.amount for record in records),
        currency=request.currency,
        decline_code=decline,
        redemptions=records,
        challenge_id=challenge_id,
    )


async def _write(session: AsyncSession, record: Redemption, now: datetime) -> None:
    """``record_purchase`` for one record, in one hand-written statement."""
    event_type, data = event_of(record)
    values = {name: getattr(record, name) for name in RECORD_COLUMNS}
    values |= {"event_id": new_id("evt"), "event_type": event_type, "data": data}
    row = await fetch_one(session, RECORD_AND_EVENT, values)
    # the row exists now: the session holds the record as the ORM path's would be held, so
    # a later change of it in this transaction (a refund of the answer) is flushed
    make_transient_to_detached(record)
    session.add(record)
    if row is not None and row[0]:
        event = Event(
            id=values["event_id"],
            type=event_type,
            object_type=record.kind,
            object_id=record.id,
            merchant_id=record.merchant_id,
            actor=record.actor,
            data=data,
            created_at=now,
        )
        await enqueue_deliveries(session, event)
