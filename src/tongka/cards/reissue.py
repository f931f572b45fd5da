"""A card's whole balance onto another card: reissue of a lost card (补卡), merge (并卡).

Both read the balance under the money gate's lock and move it in the same ledger
transaction, paid onto paid and bonus onto bonus; the emptied card closes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts
from tongka.cards.errors import CardNotFound, InvalidMergeSources, MergeNotAllowed
from tongka.cards.funding import check_max_balance
from tongka.cards.issuing import CardStatus, IssuedCard, create_cards
from tongka.cards.keys import CardKeys
from tongka.cards.lifecycle import card_event, check_transition, close, get_card
from tongka.cards.models import Card, CardProduct
from tongka.cards.money_gate import (
    CardMovement,
    Direction,
    LockedCards,
    Purpose,
    lock_cards,
    move_card_value,
)
from tongka.cards.products import get_product
from tongka.ledger import TransferRequest


async def replacement_card(
    session: AsyncSession,
    old: Card,
    product: CardProduct,
    *,
    keys: CardKeys,
    actor: str,
    now: datetime,
    face_value: int,
) -> IssuedCard:
    """A new issued card of ``old``'s product for ``old``'s holder (number and secret)."""
    [issued] = await create_cards(
        session,
        product,
        count=1,
        face_value=face_value,
        keys=keys,
        actor=actor,
        now=now,
        holder_id=old.holder_id,
    )
    card = await session.get(Card, issued.card.id)
    assert card is not None
    return IssuedCard(card=card, number=issued.number, secret=issued.secret)


async def reissue_card(
    session: AsyncSession,
    card_id: str,
    *,
    keys: CardKeys,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    reason: str | None = None,
) -> IssuedCard:
    """补卡: a new card of the same product gets the lost card's whole balance (one ledger
    transaction, paid and bonus apart) and its expiry; the lost card closes."""
    old = await get_card(session, card_id, merchant_id=merchant_id, lock=True)
    check_transition(old, "reissue")
    product = await get_product(session, old.product_id)
    issued = await replacement_card(
        session, old, product, keys=keys, actor=actor, now=now, face_value=old.face_value
    )
    new = issued.card
    new.status = CardStatus.ACTIVE
    new.activated_at = now
    new.expires_at = old.expires_at
    new.updated_at = now
    await session.flush()
    await accounts.open_card_accounts(session, [new], now=now)
    moved = await move_card_value(
        session,
        [
            CardMovement(old.id, Direction.DEBIT, Purpose.REISSUE),
            CardMovement(new.id, Direction.CREDIT, Purpose.REISSUE),
        ],
        lambda locked: accounts.moves_of_balance(
            old,
            new.id,
            locked.balances[old.id],
            transfer_prefix="card_reissue",
            code="card_reissue",
        ),
        now=now,
    )
    balance = moved.balances_before[old.id]
    close(old, now, replaced_by=new.id)
    await session.flush()
    await card_event(
        session, old, "card.reissued", actor=actor, now=now, reason=reason, new_card_id=new.id
    )
    await card_event(
        session,
        new,
        "card.activated",
        actor=actor,
        now=now,
        reason="reissue",
        replaces_card_id=old.id,
        amount=balance.paid,
        bonus=balance.bonus,
    )
    return issued


def check_merge_sources(target_card_id: str, source_card_ids: list[str]) -> None:
    """Refuse, before anything is read or locked, a source named twice or the target
    named among the sources (``source_card_ids``)."""
    if not source_card_ids:
        raise InvalidMergeSources(
            "Name at least one card to merge into the target.", param="source_card_ids"
        )
    if target_card_id in source_card_ids:
        raise InvalidMergeSources(
            f"The target card {target_card_id} cannot also be one of the source cards.",
            param="source_card_ids",
            details={"problem": "target_in_sources", "card_id": target_card_id},
        )
    repeated = sorted(
        {card_id for card_id in source_card_ids if source_card_ids.count(card_id) > 1}
    )
    if repeated:
        raise InvalidMergeSources(
            f"Each source card may be named once; repeated: {', '.join(repeated)}.",
            param="source_card_ids",
            details={"problem": "repeated", "card_ids": repeated},
        )


def _check_mergeable(
    cards: dict[str, Card], target_id: str, merchant_id: str | None, holder_id: str | None
) -> None:
    if any(
        (merchant_id is not None and card.merchant_id != merchant_id)
        or (holder_id is not None and card.holder_id != holder_id)
        for card in cards.values()
    ):
        raise CardNotFound("No such card.", param="card_ids")
    target = cards[target_id]
    for card in cards.values():
        check_transition(card, "merge")
        if card.product_id != target.product_id or card.holder_id != target.holder_id:
            raise MergeNotAllowed(
                "Only cards of one product and one holder can be merged.",
                details={"card_id": card.id},
            )


async def merge_cards(
    session: AsyncSession,
    target_card_id: str,
    source_card_ids: list[str],
    *,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    holder_id: str | None = None,
) -> Card:
    """并卡: every source card's balance moves onto the target card in one ledger
    transaction (paid onto paid, bonus onto bonus); the emptied sources close."""
    check_merge_sources(target_card_id, source_card_ids)
    sources = sorted(source_card_ids)
    cards = await lock_cards(session, [target_card_id, *sources], param="card_ids")
    _check_mergeable(cards, target_card_id, merchant_id, holder_id)  # scope before status
    target = cards[target_card_id]
    product = await get_product(session, target.product_id)

    def transfers(locked: LockedCards) -> list[TransferRequest]:
        check_max_balance(product, 0, sum(b.total for b in locked.balances.values()))
        return [
            move
            for source_id in sources
            for move in accounts.moves_of_balance(
                locked.cards[source_id],
                target.id,
                locked.balances[source_id],
                transfer_prefix="card_merge",
                code="card_merge",
            )
        ]

    moved = await move_card_value(
        session,
        [CardMovement(target.id, Direction.CREDIT, Purpose.MERGE)]
        + [CardMovement(source_id, Direction.DEBIT, Purpose.MERGE) for source_id in sources],
        transfers,
        now=now,
    )
    balances = moved.balances_before
    for source_id in sources:
        close(cards[source_id], now, replaced_by=target.id)
    await session.flush()
    for source_id in sources:
        await card_event(
            session, cards[source_id], "card.merged", actor=actor, now=now, into_card_id=target.id
        )
    await card_event(
        session,
        target,
        "card.merge_received",
        actor=actor,
        now=now,
        from_card_ids=sources,
        amount=sum(balances[s].paid for s in sources),
        bonus=sum(balances[s].bonus for s in sources),
    )
    return target
