"""Bonuses (充值赠送): an order claims its bonus from a promotion's budget, then posts it to
the card at fulfilment — or gives it back (``docs/design-sales-payments.md``).

The contract with the orders part:

- ``claim_bonus(...) -> BonusGrant | None`` when the order is created: reserves the bonus
  of the best promotion the load reaches. Exact under concurrency: the budget is taken by
  one conditional ``UPDATE promotions SET remaining_minor = remaining_minor - :bonus WHERE
  … remaining_minor >= :bonus`` and a per-holder cap by the same kind of statement on the
  holder's usage row, so many concurrent claims never grant more than the budget, and
  grant all of it while demand lasts (a claim that loses the race tries the next
  promotion, or gets none). Idempotent per ``order_id`` (unique): a retry answers the first
  claim's grant. A promotion with per-holder caps needs a ``holder_id``: an anonymous load
  never gets it (the cap could not be kept).
- At fulfilment, either ``post_bonus(...)`` (its own gate call, same transaction), or the
  order's own gate call carrying ``bonus_transfer(...)`` (or ``CardFunding(bonus=…,
  bonus_account_id=grant.debit_account_id)`` for an activation) and then
  ``mark_bonus_posted(...)``: debit the budget account, credit the card's bonus account.
- ``release_bonus(...)`` when the order is cancelled or expires unpaid: the bonus goes back
  to the budget (or, if the promotion has ended since, to the merchant).

Lock order everywhere: the claim row, the holder's usage row, the promotion row.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.cards.accounts import bonus_account_id, card_of_account
from tongka.cards.funding import check_max_balance
from tongka.cards.money_gate import CardMovement, Direction, LockedCards, Purpose, move_card_value
from tongka.cards.products import get_product
from tongka.errors import InvalidRequest
from tongka.ids import new_id
from tongka.ledger import Transfer, TransferRequest
from tongka.sales import promotion_budget
from tongka.sales.promotion_errors import BonusAlreadyPosted, BonusNotClaimed
from tongka.sales.promotion_lifecycle import (
    PromotionStatus,
    claims_query,
    create_promotion,
    end_expired,
    end_expired_promotions,
    end_promotion,
    get_promotion,
    promotions_query,
)
from tongka.sales.promotion_models import Promotion, PromotionClaim, PromotionHolderUsage
from tongka.sales.promotion_offers import (
    is_capped,
    is_merchants_product,
    paying_promotions,
    preview_bonus,
)
from tongka.sales.promotion_rules import PromotionSpec, Tier

__all__ = [
    "BonusGrant",
    "ClaimStatus",
    "PromotionSpec",
    "PromotionStatus",
    "Tier",
    "bonus_transfer",
    "claim_bonus",
    "claims_query",
    "create_promotion",
    "end_expired",
    "end_expired_promotions",
    "end_promotion",
    "get_promotion",
    "mark_bonus_posted",
    "post_bonus",
    "posted_transfer_ids",
    "preview_bonus",
    "promotions_query",
    "release_bonus",
    "shown_statuses",
]

BONUS_CODE = "promotion_bonus"


class ClaimStatus(enum.StrEnum):
    CLAIMED = "claimed"
    POSTED = "posted"
    RELEASED = "released"
    NONE = "none"  # no promotion applied: a retry answers the same


@dataclass(frozen=True)
class BonusGrant:
    """A reserved bonus: ``amount_minor`` from promotion ``promotion_id``, debited (at
    fulfilment) from its budget account ``debit_account_id``."""

    promotion_id: str
    amount_minor: int
    debit_account_id: str


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert


async def _claim_row(session: AsyncSession, order_id: str, *, lock: bool) -> PromotionClaim | None:
    statement = select(PromotionClaim).where(PromotionClaim.order_id == order_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


async def _grant_of(session: AsyncSession, claim: PromotionClaim) -> BonusGrant | None:
    if claim.status not in (ClaimStatus.CLAIMED, ClaimStatus.POSTED) or not claim.promotion_id:
        return None
    account = await session.scalar(
        select(Promotion.budget_account_id).where(Promotion.id == claim.promotion_id)
    )
    assert account is not None
    return BonusGrant(claim.promotion_id, claim.amount_minor, account)


async def _count_holder(
    session: AsyncSession, promotion: Promotion, holder_id: str, bonus: int, sign: int
) -> bool:
    """Add (``sign`` 1) or take back (-1) one claim of ``bonus`` on the holder's usage, in
    one statement that tests the caps; False when a cap would be crossed."""
    await session.execute(
        _insert(session)(PromotionHolderUsage)
        .values(promotion_id=promotion.id, holder_id=holder_id, claim_count=0, amount_minor=0)
        .on_conflict_do_nothing()
    )
    usage = PromotionHolderUsage
    statement = (
        update(usage)
        .where(usage.promotion_id == promotion.id, usage.holder_id == holder_id)
        .values(
            claim_count=usage.claim_count + sign, amount_minor=usage.amount_minor + sign * bonus
        )
        .execution_options(synchronize_session=False)
    )
    if sign > 0 and promotion.per_holder_count is not None:
        statement = statement.where(usage.claim_count + 1 <= promotion.per_holder_count)
    if sign > 0 and promotion.per_holder_amount_minor is not None:
        statement = statement.where(usage.amount_minor + bonus <= promotion.per_holder_amount_minor)
    return bool((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]


async def _take_from_budget(
    session: AsyncSession, promotion_id: str, bonus: int, now: datetime
) -> bool:
    """The one statement that makes the budget exact: take ``bonus`` only if it is there."""
    left = Promotion.remaining_minor - bonus
    result = await session.execute(
        update(Promotion)
        .where(
            Promotion.id == promotion_id,
            Promotion.status == PromotionStatus.ACTIVE.value,
            Promotion.remaining_minor >= bonus,
            Promotion.starts_at <= now,
            Promotion.ends_at > now,
        )
        .values(
            remaining_minor=left,
            status=case(
                (left < Promotion.min_bonus_minor, PromotionStatus.EXHAUSTED.value),
                else_=Promotion.status,
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _reserve(
    session: AsyncSession, promotion: Promotion, bonus: int, holder_id: str | None, now: datetime
) -> bool:
    counted = holder_id is not None and is_capped(promotion)
    if counted and not await _count_holder(session, promotion, str(holder_id), bonus, 1):
        return False
    if await _take_from_budget(session, promotion.id, bonus, now):
        return True
    if counted:  # the budget ran out meanwhile: the holder's count goes back
        await _count_holder(session, promotion, str(holder_id), bonus, -1)
    return False


async def claim_bonus(
    session: AsyncSession,
    *,
    merchant_id: str,
    product_id: str,
    holder_id: str | None,
    load_minor: int,
    currency: str,
    order_id: str,
    now: datetime,
) -> BonusGrant | None:
    """Reserve the bonus ``load_minor`` earns for ``order_id`` (see the module); ``None``
    when no promotion pays it. Idempotent per ``order_id`` once a promotion applied (a
    ``None`` while no promotion runs is not recorded, so most orders write nothing here).
    Never commits."""
    if load_minor <= 0:
        raise InvalidRequest("A load is a positive amount.", param="load_minor")
    existing = await _claim_row(session, order_id, lock=False)
    if existing is not None:
        return await _answer_again(session, existing, merchant_id)
    candidates = await paying_promotions(
        session, merchant_id, product_id, currency, load_minor, holder_id, now
    )
    if not candidates or not await is_merchants_product(session, merchant_id, product_id, currency):
        return None
    inserted = await session.execute(
        _insert(session)(PromotionClaim)
        .values(
            id=new_id("pcl"),
            order_id=order_id,
            merchant_id=merchant_id,
            promotion_id=None,
            holder_id=holder_id,
            product_id=product_id,
            load_minor=load_minor,
            amount_minor=0,
            currency=currency,
            status=ClaimStatus.NONE.value,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    claim = await _claim_row(session, order_id, lock=True)
    assert claim is not None
    if not inserted.rowcount:  # type: ignore[attr-defined]  # a twin claimed it first
        return await _answer_again(session, claim, merchant_id)
    for promotion, bonus in candidates:
        if await _reserve(session, promotion, bonus, holder_id, now):
            claim.promotion_id = promotion.id
            claim.amount_minor = bonus
            claim.status = ClaimStatus.CLAIMED
            await session.flush()
            return BonusGrant(promotion.id, bonus, promotion.budget_account_id)
    return None


async def _answer_again(
    session: AsyncSession, claim: PromotionClaim, merchant_id: str
) -> BonusGrant | None:
    if claim.merchant_id != merchant_id:
        raise InvalidRequest("This order id belongs to another merchant.", param="order_id")
    return await _grant_of(session, claim)


async def release_bonus(
    session: AsyncSession, order_id: str, *, now: datetime
) -> PromotionClaim | None:
    """Give an unposted claim back (idempotent; ``None`` when the order claimed nothing).
    The bonus returns to the budget — or to the merchant if the promotion has ended since.
    ``BonusAlreadyPosted`` once it is on the card."""
    claim = await _claim_row(session, order_id, lock=True)
    if claim is None or claim.status in (ClaimStatus.NONE, ClaimStatus.RELEASED):
        return claim
    if claim.status == ClaimStatus.POSTED or await _posted_elsewhere(session, claim, now):
        raise BonusAlreadyPosted(
            "The bonus is on the card already; it cannot be given back.", param="order_id"
        )
    promotion = await get_promotion(session, str(claim.promotion_id), merchant_id=None)
    if claim.holder_id is not None and is_capped(promotion):
        await _count_holder(session, promotion, claim.holder_id, claim.amount_minor, -1)
    if not await _give_back(session, promotion.id, claim.amount_minor, now):
        await _return_after_end(session, promotion, claim, now)
    claim.status = ClaimStatus.RELEASED
    claim.updated_at = now
    await session.flush()
    return claim


async def _give_back(session: AsyncSession, promotion_id: str, amount: int, now: datetime) -> bool:
    """Back into ``remaining_minor`` unless the promotion has ended (False then)."""
    back = Promotion.remaining_minor + amount
    result = await session.execute(
        update(Promotion)
        .where(Promotion.id == promotion_id, Promotion.status != PromotionStatus.ENDED.value)
        .values(
            remaining_minor=back,
            status=case(
                (back >= Promotion.min_bonus_minor, PromotionStatus.ACTIVE.value),
                else_=Promotion.status,
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _return_after_end(
    session: AsyncSession, promotion: Promotion, claim: PromotionClaim, now: datetime
) -> None:
    await promotion_budget.return_budget(
        session,
        merchant_id=promotion.merchant_id,
        promotion_id=promotion.id,
        budget_account=promotion.budget_account_id,
        currency=promotion.currency,
        amount_minor=claim.amount_minor,
        part=claim.id,
        now=now,
    )
    await session.execute(
        update(Promotion)
        .where(Promotion.id == promotion.id)
        .values(returned_minor=Promotion.returned_minor + claim.amount_minor, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def bonus_transfer(
    grant: BonusGrant, *, order_id: str, card_id: str, currency: str
) -> TransferRequest:
    """The bonus's transfer, for an order that puts it in its own gate call beside the paid
    value (then ``mark_bonus_posted``): budget account → the card's bonus account."""
    return TransferRequest(
        transfer_id=f"{BONUS_CODE}:{order_id}",
        debit_account_id=grant.debit_account_id,
        credit_account_id=bonus_account_id(card_id),
        amount=grant.amount_minor,
        currency=currency,
        code=BONUS_CODE,
        metadata={"card_id": card_id, "order_id": order_id, "promotion_id": grant.promotion_id},
    )


# The ids a claim's bonus may be posted under: ``bonus_transfer``'s, and the bonus leg of
# the orders part's ``CardFunding`` (its transfer id is ``order:<order id>``).
def posted_transfer_ids(order_id: str) -> tuple[str, str]:
    return (f"{BONUS_CODE}:{order_id}", f"order:{order_id}:bonus")


async def _posted_elsewhere(
    session: AsyncSession, claim: PromotionClaim, now: datetime
) -> Transfer | None:
    """The claim's bonus transfer if a gate call posted it without ``mark_bonus_posted``
    (the claim is marked posted then, so it is never given back or posted twice)."""
    if claim.status != ClaimStatus.CLAIMED:
        return None
    grant = await _grant_of(session, claim)
    assert grant is not None
    found = await ledger.find_transfers(session, posted_transfer_ids(claim.order_id))
    for transfer in found.values():
        card_id = card_of_account(transfer.credit_account_id)
        if transfer.debit_account_id == grant.debit_account_id and card_id is not None:
            await _mark_posted(session, claim, card_id, transfer.transfer_id, now)
            return transfer
    return None


async def shown_statuses(session: AsyncSession, claims: Sequence[PromotionClaim]) -> dict[str, str]:
    """Each claim's status as pages show it: ``posted`` also for a claim whose bonus a gate
    call posted without marking it (read from the ledger, nothing written)."""
    open_ids = {
        transfer_id: claim.id
        for claim in claims
        if claim.status == ClaimStatus.CLAIMED
        for transfer_id in posted_transfer_ids(claim.order_id)
    }
    found = await ledger.find_transfers(session, open_ids) if open_ids else {}
    posted = {open_ids[transfer_id] for transfer_id in found}
    return {
        claim.id: ClaimStatus.POSTED.value if claim.id in posted else claim.status
        for claim in claims
    }


async def _open_claim(session: AsyncSession, order_id: str) -> PromotionClaim:
    claim = await _claim_row(session, order_id, lock=True)
    if claim is None or claim.status in (ClaimStatus.NONE, ClaimStatus.RELEASED):
        raise BonusNotClaimed("The order has no claimed bonus to post.", param="order_id")
    return claim


async def mark_bonus_posted(
    session: AsyncSession, order_id: str, *, card_id: str, transfer_id: str, now: datetime
) -> PromotionClaim:
    """Record that the order's own gate call posted the bonus (``transfer_id``); checks the
    transfer is there, from the budget, of the claimed amount. Idempotent."""
    claim = await _open_claim(session, order_id)
    if claim.status == ClaimStatus.POSTED:
        return claim
    grant = await _grant_of(session, claim)
    assert grant is not None
    posted = await ledger.get_transfer(session, transfer_id)
    if (posted.debit_account_id, posted.credit_account_id, posted.amount) != (
        grant.debit_account_id,
        bonus_account_id(card_id),
        grant.amount_minor,
    ):
        raise InvalidRequest(
            "That transfer is not this order's bonus onto the card.", param="transfer_id"
        )
    return await _mark_posted(session, claim, card_id, transfer_id, now)


async def _mark_posted(
    session: AsyncSession, claim: PromotionClaim, card_id: str, transfer_id: str, now: datetime
) -> PromotionClaim:
    claim.status = ClaimStatus.POSTED
    claim.card_id = card_id
    claim.transfer_id = transfer_id
    claim.updated_at = now
    await session.flush()
    return claim


async def post_bonus(
    session: AsyncSession,
    order_id: str,
    *,
    card_id: str,
    purpose: Purpose = Purpose.TOP_UP,
    now: datetime,
) -> Transfer | None:
    """Post the order's claimed bonus onto ``card_id``'s bonus account through the card
    money gate (``purpose``: ``TOP_UP``, or ``ACTIVATION`` for a card sold with it), in the
    caller's transaction, within the product's maximum balance (``MaxBalanceExceeded``).
    ``None`` when the order claimed nothing; idempotent (a second call answers the first
    transfer); ``BonusNotClaimed`` when it was given back."""
    claim = await _claim_row(session, order_id, lock=True)
    if claim is None or claim.status == ClaimStatus.NONE:
        return None
    claim = await _open_claim(session, order_id)
    grant = await _grant_of(session, claim)
    assert grant is not None
    posted = await _posted_elsewhere(session, claim, now)
    if claim.status == ClaimStatus.POSTED and posted is None:
        posted = await ledger.get_transfer(session, str(claim.transfer_id))
    if posted is not None:
        return posted
    request = bonus_transfer(grant, order_id=order_id, card_id=card_id, currency=claim.currency)

    async def checked(locked: LockedCards) -> list[TransferRequest]:
        card = locked.cards[card_id]
        if (card.merchant_id, card.product_id, card.currency) != (
            claim.merchant_id,
            claim.product_id,
            claim.currency,
        ):
            raise InvalidRequest("The bonus belongs on a card of the order.", param="card_id")
        product = await get_product(session, card.product_id)
        check_max_balance(product, locked.balances[card_id].total, request.amount)
        return [request]

    moved = await move_card_value(
        session, [CardMovement(card_id, Direction.CREDIT, purpose)], checked, now=now
    )
    await _mark_posted(session, claim, card_id, request.transfer_id, now)
    return moved.transfers[0]
