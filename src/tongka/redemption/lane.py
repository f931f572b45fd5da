"""The redemption lane: the plain purchases of one batch, together, in a few statements
(issue #12 "Speed"; PostgreSQL).

Why: a redemption through ``service.redeem`` costs about twenty statements, each a round
trip with its share of Python, and that — not the database — bounds the rate. The lane
takes the purchases that concurrent requests of one process brought (``api.redemption_lane``
collects them) and does each step for all of them at once: one statement claims every
key, one checks every store, one locks and reads every card with its product, two read
the limits, one the balances, one the contracts, one posting writes every transfer, two
write every record and event.

Only the plain case is taken here, exactly as ``fast_path`` defines it for one card (the
same ``plain_card`` check), and only where the decision point surely allows without
writing (``decision.allowed_without_rules``). Several members may spend one card: they
take, in the batch's order, from what the earlier ones left, and one the card cannot pay
is declined ``insufficient_funds`` here, as the service would (a hot card's many requests
stay in the lane). Anything else —
a decline other than ``insufficient_funds``, a challenge, a limit to reserve, a wrong
secret, a store that is not the merchant's, the same key twice in one batch — is answered
``None`` with nothing of
it left written (its key claim is taken back), and the caller sends it the usual way,
which answers it as it always has. So the lane never answers differently from the
service; it answers fewer cases, faster. ``tests/pg/test_redemption_lane.py`` runs the
same requests both ways and compares answers, records, transfers, balances and events.

Order of locks, the same as the service's: the key claims (the unique index), then the
cards (sorted by id, one statement), then the ledger's balance rows; so a batch and a
single request never wait for each other in opposite orders. A card another transaction
holds is not waited for (``SKIP LOCKED``): its request is answered ``BUSY`` and the
caller tries it again in a later batch — two batches of one promotion day's cards would
otherwise queue behind each other's commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.cards import accounts, numbers
from tongka.cards.keys import CardKeys
from tongka.cards.money_gate import (
    CardLockedByCaller,
    CardMovement,
    Direction,
    Purpose,
    move_value_of_locked_cards,
)
from tongka.config import Settings
from tongka.db.driver import DriverConnection
from tongka.db.statements import DriverStatement, driver_of, execute_many, fetch_all
from tongka.events.models import Event
from tongka.ids import new_id
from tongka.redemption.decision import RedemptionContext, allowed_without_rules
from tongka.redemption.fast_path import (
    CARD_AND_PRODUCT_COLUMNS,
    CardRow,
    is_plain_request,
    plain_card,
)
from tongka.redemption.fees import (
    FeeRate,
    fee_income_account,
    merchant_payable_account,
    redemption_fees_of_merchants,
)
from tongka.redemption.movement import card_fee, card_transfers, split_parts
from tongka.redemption.purchase import Purchase, RedeemRequest, redemption_id_of
from tongka.redemption.records import (
    RECORD_COLUMNS,
    AnyRecord,
    event_of,
    purchase_record_rows,
)
from tongka.webhooks.fanout import enqueue_deliveries

CLAIM_MANY = DriverStatement(
    text(
        "INSERT INTO redemption_keys"
        " (merchant_id, key, purchase_id, is_reversed, created_at, reversed_at)"
        " SELECT u.merchant_id, u.key, u.purchase_id, false, :now, NULL"
        " FROM unnest(CAST(:merchant_ids AS VARCHAR[]), CAST(:keys AS VARCHAR[]),"
        " CAST(:purchase_ids AS VARCHAR[])) AS u(merchant_id, key, purchase_id)"
        " ON CONFLICT DO NOTHING RETURNING merchant_id, key"
    )
)
UNCLAIM = DriverStatement(
    text("DELETE FROM redemption_keys WHERE merchant_id = :merchant_id AND key = :key")
)
STORES = DriverStatement(text("SELECT id, merchant_id FROM stores WHERE id = ANY(:ids)"))
TERMINALS = DriverStatement(
    text("SELECT id, merchant_id, store_id FROM terminals WHERE id = ANY(:ids)")
)
CARDS_AND_PRODUCTS = DriverStatement(
    text(
        f"SELECT c.number_index, {CARD_AND_PRODUCT_COLUMNS}"
        " FROM cards AS c JOIN card_products AS p ON p.id = c.product_id"
        " WHERE c.number_index = ANY(:indexes)"
        " ORDER BY c.id FOR UPDATE OF c SKIP LOCKED"
    )
)
INSERT_RECORD = DriverStatement(
    text(
        "INSERT INTO redemptions ("
        + ", ".join(RECORD_COLUMNS)
        + ") VALUES ("
        + ", ".join(f":{name}" for name in RECORD_COLUMNS)
        + ")"
    )
)
INSERT_EVENT = DriverStatement(
    text(
        "INSERT INTO events"
        " (id, type, object_type, object_id, merchant_id, actor, data, created_at)"
        " VALUES (:id, :type, :object_type, :object_id, :merchant_id, :actor, :data,"
        " :created_at)"
    ).bindparams(bindparam("data", type_=JSON))
)
MERCHANTS_WITH_ENDPOINTS = DriverStatement(
    text(
        "SELECT DISTINCT merchant_id FROM webhook_endpoints"
        " WHERE merchant_id = ANY(:merchant_ids) AND status = 'enabled'"
    )
)


class Busy:
    """The answer for a request whose card another transaction held (or that names no
    card): nothing of it was written; try it in a later batch, or the usual way."""


BUSY = Busy()


@dataclass
class _Member:
    """One purchase of the batch while the lane works on it."""

    index: int
    request: RedeemRequest
    purchase_id: str
    number_index: str
    card: CardRow | None = None
    take: tuple[int, int] = (0, 0)  # paid, bonus
    balance_after: int | None = None
    decline: str | None = None  # insufficient_funds: answered here, as the service would
    fee_rate: FeeRate | None = None
    busy: bool = False  # its card was locked elsewhere (``SKIP LOCKED``) or is unknown


async def redeem_plain(
    session: AsyncSession,
    requests: Sequence[RedeemRequest],
    *,
    keys: CardKeys,
    settings: Settings,
    now: datetime,
) -> list[Purchase | Busy | None]:
    """Each request's purchase; ``None`` where the usual path must answer, ``BUSY``
    where the card was held by another transaction (nothing of either written). Runs in
    the caller's transaction; never commits."""
    members = [
        _Member(i, r, new_id("pur"), keys.number_index(numbers.normalise(r.cards[0].number or "")))
        for i, r in enumerate(requests)
        if is_plain_request(r)
    ]
    members = _distinct(members)
    unit = await driver_of(session)  # the hand-written statements: asyncpg, straight
    claimed = await _claim(unit, members, now)
    members = await _placed(unit, claimed)
    members = await _plain_cards(unit, members, keys, now)
    members = await _allowed(unit, members)
    members = await _funded(unit, members)
    if members:
        await _fees(session, members, settings, now)
        await _post(session, unit, members, now)
    answers: list[Purchase | Busy | None] = [None] * len(requests)
    for member in claimed:
        if member.busy:
            answers[member.index] = BUSY
    for member in members:
        answers[member.index] = _purchase(member, now)
    await _write(session, unit, [p for p in answers if isinstance(p, Purchase)], now)
    taken = {m.index for m in members}
    await execute_many(
        unit,
        UNCLAIM,
        [
            {"merchant_id": m.request.merchant_id, "key": m.request.idempotency_key}
            for m in claimed
            if m.index not in taken
        ],
    )
    return answers


def _distinct(members: list[_Member]) -> list[_Member]:
    """The first of each (merchant, key): a second one in the same batch is a duplicate,
    which the usual path answers after it (replaying the first's answer)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for member in members:
        key = (member.request.merchant_id, member.request.idempotency_key)
        if key not in seen:
            seen.add(key)
            kept.append(member)
    return kept


async def _claim(unit: DriverConnection, members: list[_Member], now: datetime) -> list[_Member]:
    """Claim every key at once; a key already claimed (a replay, a reversal first, a twin
    in flight) is the usual path's to answer."""
    if not members:
        return []
    rows = await fetch_all(
        unit,
        CLAIM_MANY,
        {
            "merchant_ids": [m.request.merchant_id for m in members],
            "keys": [m.request.idempotency_key for m in members],
            "purchase_ids": [m.purchase_id for m in members],
            "now": now,
        },
    )
    won = {(row[0], row[1]) for row in rows}
    return [m for m in members if (m.request.merchant_id, m.request.idempotency_key) in won]


async def _placed(unit: DriverConnection, members: list[_Member]) -> list[_Member]:
    """``card_lookup.check_place`` for all: the store is the merchant's, the terminal at it."""
    store_ids = sorted({m.request.store_id for m in members if m.request.store_id})
    terminal_ids = sorted({m.request.terminal_id for m in members if m.request.terminal_id})
    stores = {r[0]: r[1] for r in await _rows(unit, STORES, store_ids)}
    terminals = {r[0]: (r[1], r[2]) for r in await _rows(unit, TERMINALS, terminal_ids)}

    def placed(request: RedeemRequest) -> bool:
        if request.store_id is not None and stores.get(request.store_id) != request.merchant_id:
            return False
        if request.terminal_id is None:
            return True
        merchant, store = terminals.get(request.terminal_id, (None, None))
        return merchant == request.merchant_id and request.store_id in (None, store)

    return [m for m in members if placed(m.request)]


async def _rows(unit: DriverConnection, statement: DriverStatement, ids: list[str]) -> Any:
    return await fetch_all(unit, statement, {"ids": ids}) if ids else []


async def _plain_cards(
    unit: DriverConnection, members: list[_Member], keys: CardKeys, now: datetime
) -> list[_Member]:
    """Lock and read every card with its product in one statement; keep the plain ones.
    A card another transaction holds is skipped, not waited for (``SKIP LOCKED``): a batch
    holds its cards until it commits, so waiting would stall it whole behind another; its
    members are ``busy``, for a later batch."""
    if not members:
        return []
    rows = await fetch_all(
        unit, CARDS_AND_PRODUCTS, {"indexes": sorted({m.number_index for m in members})}
    )
    by_index = {row[0]: row[1:] for row in rows}
    kept = []
    for member in members:
        row = by_index.get(member.number_index)
        member.busy = row is None
        member.card = None if row is None else plain_card(row, member.request, keys, now)
        if member.card is not None:
            kept.append(member)
    return kept


async def _allowed(unit: DriverConnection, members: list[_Member]) -> list[_Member]:
    contexts = [_context(m) for m in members]
    answers = await allowed_without_rules(unit, contexts)
    return [m for m, allowed in zip(members, answers, strict=True) if allowed]


def _context(member: _Member) -> RedemptionContext:
    card, request = _card(member), member.request
    return RedemptionContext(
        card_id=card.id,
        product_id=card.product_id,
        merchant_id=request.merchant_id,
        store_id=request.store_id,
        terminal_id=request.terminal_id,
        amount_minor=request.amount,
        currency=request.currency,
        issuer_merchant_id=card.merchant_id,
        holder_id=card.holder_id,
    )


def _card(member: _Member) -> CardRow:
    assert member.card is not None  # only members with a plain card get this far
    return member.card


async def _funded(unit: DriverConnection, members: list[_Member]) -> list[_Member]:
    """What each member takes, from the balances read under the cards' locks, in the
    batch's order: the members on one card take from what the earlier ones left, and a
    member the card cannot pay (without ``allow_partial``) is declined
    ``insufficient_funds``, as the service declines it."""
    if not members:
        return []
    ids = sorted(
        {
            account
            for m in members
            for account in (
                accounts.main_account_id(_card(m).id),
                accounts.bonus_account_id(_card(m).id),
            )
        }
    )
    balances = await ledger.get_balances(unit, ids)
    left = {account: balances[account].available for account in ids}
    for member in members:
        card, request = _card(member), member.request
        main, bonus = accounts.main_account_id(card.id), accounts.bonus_account_id(card.id)
        total = left[main] + left[bonus]
        take = min(total, request.amount) if request.allow_partial else request.amount
        if take <= 0 or take > total:
            member.decline = "insufficient_funds"
            continue
        member.take = split_parts(
            left[main], left[bonus], take, bonus_first=card.is_bonus_spent_first
        )
        left[main] -= member.take[0]
        left[bonus] -= member.take[1]
        member.balance_after = total - take
    return members


async def _fees(
    session: AsyncSession, members: list[_Member], settings: Settings, now: datetime
) -> None:
    rates = await redemption_fees_of_merchants(
        session,
        {m.request.merchant_id for m in members},
        default_rate=settings.redemption_fee_rate,
        timezone=settings.timezone,
        now=now,
    )
    for member in members:
        member.fee_rate = rates[member.request.merchant_id]


async def _post(
    session: AsyncSession, unit: DriverConnection, members: list[_Member], now: datetime
) -> None:
    """Every approved member's transfers through the card money gate, in one posting."""
    payables: dict[tuple[str, str], str] = {}
    fee_accounts: dict[str, str] = {}
    transfers = []
    approved = [m for m in members if m.decline is None]
    if not approved:
        return
    for member in approved:
        request, card = member.request, _card(member)
        key = (request.merchant_id, request.currency)
        if key not in payables:
            payables[key] = await merchant_payable_account(session, *key, now=now)
        if request.currency not in fee_accounts:
            fee_accounts[request.currency] = await fee_income_account(
                session, request.currency, now=now
            )
        paid, bonus = member.take
        transfers.extend(
            card_transfers(
                redemption_id_of(request.merchant_id, request.idempotency_key, 0),
                card.id,
                paid,
                bonus,
                card_fee(paid + bonus, request.currency, _rate(member), card),
                payables[key],
                fee_accounts[request.currency],
                request.currency,
            )
        )
    cards = {_card(m).id: _card(m) for m in approved}
    await move_value_of_locked_cards(
        unit,
        [CardLockedByCaller(card.id, card.status) for card in cards.values()],
        [CardMovement(card_id, Direction.DEBIT, Purpose.REDEMPTION) for card_id in cards],
        transfers,
        now=now,
    )


def _rate(member: _Member) -> Any:
    assert member.fee_rate is not None  # set by ``_fees`` before posting
    return member.fee_rate


def _purchase(member: _Member, now: datetime) -> Purchase:
    """The member's answer and record, as ``service.redeem`` makes them."""
    request, card = member.request, _card(member)
    records = purchase_record_rows(
        request,
        member.purchase_id,
        [(card, None)],
        [request.amount],
        [None],
        member.decline,
        [member.take],
        [member.balance_after],
        fee_rate=_rate(member),
        now=now,
    )
    return Purchase(
        id=member.purchase_id,
        status="declined" if member.decline else "approved",
        amount=request.amount,
        taken=records[0].amount,
        currency=request.currency,
        decline_code=member.decline,
        redemptions=records,
    )


async def _write(
    session: AsyncSession, unit: DriverConnection, purchases: list[Purchase], now: datetime
) -> None:
    """Every record and its event, two statements; webhook deliveries where the merchant
    has an enabled endpoint (as ``events.record_event`` adds them)."""
    records = [r for p in purchases for r in p.redemptions]
    if not records:
        return
    events = [_event_values(record, now) for record in records]
    await execute_many(
        unit, INSERT_RECORD, [{n: getattr(r, n) for n in RECORD_COLUMNS} for r in records]
    )
    await execute_many(unit, INSERT_EVENT, events)
    merchants = sorted({r.merchant_id for r in records})
    rows = await fetch_all(unit, MERCHANTS_WITH_ENDPOINTS, {"merchant_ids": merchants})
    listening = {row[0] for row in rows}
    for values in events:
        if values["merchant_id"] in listening:
            await enqueue_deliveries(session, Event(**values))


def _event_values(record: AnyRecord, now: datetime) -> dict[str, Any]:
    """The record's event, as ``events.record_event`` would write it."""
    event_type, data = event_of(record)
    return {
        "id": new_id("evt"),
        "type": event_type,
        "object_type": record.kind,
        "object_id": record.id,
        "merchant_id": record.merchant_id,
        "actor": record.actor,
        "data": data,
        "created_at": now,
    }
