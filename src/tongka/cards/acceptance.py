"""Where a product's cards are accepted, and the agreements (受理协议) that allow it.

A product is accepted at its issuer's stores, at a list of stores, or by a list of
merchants. Naming another merchant, or another merchant's store, needs that merchant's
consent: an acceptance agreement the issuer proposes and the accepting merchant (the
acceptor) approves. Either party may revoke it later; rows are never deleted.

How consent is enforced, at every step:

- creating, submitting and approving a product, and issuing its cards, call
  ``ensure_acceptance_agreed``: every named store or merchant must be the issuer's own or
  covered by an agreement approved *now*. So after a revocation the products that name the
  acceptor can no longer be approved or issue cards (until a new agreement is approved);
- redemption asks ``is_accepted_at(session, product, merchant_id, store_id)``, which checks
  the agreement as it stands at that moment, so cards already issued stop being accepted at
  the acceptor's stores the moment it revokes.

An unknown store id and another merchant's store without an agreement get the same answer
(``acceptance_not_agreed``), so a product form never tells whether another merchant's store
exists. Whether a *merchant* id exists is what the agreement flow itself shows (proposing
to an unknown merchant is refused with ``unknown_merchant``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards.errors import (
    AcceptanceAgreementExists,
    AcceptanceAgreementNotFound,
    AcceptanceNotAgreed,
    IllegalAgreementTransition,
    NotAgreementParty,
    UnknownMerchant,
)
from tongka.cards.models import CardAcceptanceAgreement, CardProduct
from tongka.errors import InvalidRequest
from tongka.events import record_event
from tongka.identity.models import Merchant, Store
from tongka.ids import new_id


class Acceptance(enum.StrEnum):
    ISSUER_STORES = "issuer_stores"
    STORES = "stores"
    MERCHANTS = "merchants"


class AgreementStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


LIVE_STATUSES = (AgreementStatus.PROPOSED.value, AgreementStatus.APPROVED.value)


async def require_merchant_exists(
    session: AsyncSession, merchant_id: str, *, param: str = "merchant_id", lock: bool = False
) -> Merchant:
    """The merchant, or ``unknown_merchant`` (422) naming ``param``."""
    statement = select(Merchant).where(Merchant.id == merchant_id)
    if lock:
        statement = statement.with_for_update()
    merchant = await session.scalar(statement)
    if merchant is None:
        raise UnknownMerchant(
            f"There is no merchant {merchant_id}.",
            param=param,
            details={"merchant_id": merchant_id},
        )
    return merchant


# --- agreements --------------------------------------------------------------------------


async def _agreement_event(
    session: AsyncSession,
    agreement: CardAcceptanceAgreement,
    type: str,
    actor: str,
    now: datetime,
    **data: object,
) -> None:
    """Recorded once for each party, so each sees it in its own events and webhooks."""
    for merchant_id in (agreement.issuer_merchant_id, agreement.acceptor_merchant_id):
        await record_event(
            session,
            type=type,
            object_type="card_acceptance_agreement",
            object_id=agreement.id,
            actor=actor,
            now=now,
            merchant_id=merchant_id,
            data={
                "status": agreement.status,
                "issuer_merchant_id": agreement.issuer_merchant_id,
                "acceptor_merchant_id": agreement.acceptor_merchant_id,
                **data,
            },
        )


async def propose_agreement(
    session: AsyncSession,
    issuer_merchant_id: str,
    acceptor_merchant_id: str,
    *,
    note: str | None,
    actor: str,
    now: datetime,
) -> CardAcceptanceAgreement:
    """The issuer asks ``acceptor_merchant_id`` to accept its cards.

    The acceptor's merchant row is locked first, so two proposals for one pair take turns
    and the second sees the first (``acceptance_agreement_exists``)."""
    if acceptor_merchant_id == issuer_merchant_id:
        raise InvalidRequest(
            "An issuer's own stores accept its cards without an agreement.",
            code="acceptance_agreement_with_self",
            param="acceptor_merchant_id",
        )
    await require_merchant_exists(
        session, acceptor_merchant_id, param="acceptor_merchant_id", lock=True
    )
    live = await session.scalar(
        select(CardAcceptanceAgreement.id).where(
            CardAcceptanceAgreement.issuer_merchant_id == issuer_merchant_id,
            CardAcceptanceAgreement.acceptor_merchant_id == acceptor_merchant_id,
            CardAcceptanceAgreement.status.in_(LIVE_STATUSES),
        )
    )
    if live is not None:
        raise AcceptanceAgreementExists(
            f"Agreement {live} with this merchant is already proposed or approved.",
            param="acceptor_merchant_id",
            details={"agreement_id": live},
        )
    agreement = CardAcceptanceAgreement(
        id=new_id("agr"),
        issuer_merchant_id=issuer_merchant_id,
        acceptor_merchant_id=acceptor_merchant_id,
        status=AgreementStatus.PROPOSED,
        note=note,
        proposed_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(agreement)
    await session.flush()
    await _agreement_event(session, agreement, "card_acceptance_agreement.proposed", actor, now)
    return agreement


def agreements_query(
    *, merchant_id: str | None, status: str | None = None
) -> Select[tuple[CardAcceptanceAgreement]]:
    """Agreements ``merchant_id`` is a party to (``None``: all, for the platform)."""
    statement = select(CardAcceptanceAgreement)
    if merchant_id is not None:
        statement = statement.where(
            or_(
                CardAcceptanceAgreement.issuer_merchant_id == merchant_id,
                CardAcceptanceAgreement.acceptor_merchant_id == merchant_id,
            )
        )
    if status is not None:
        statement = statement.where(CardAcceptanceAgreement.status == status)
    return statement


async def get_agreement(
    session: AsyncSession, agreement_id: str, *, merchant_id: str | None, lock: bool = False
) -> CardAcceptanceAgreement:
    """An agreement the caller is a party to (anyone else's: not found)."""
    statement = agreements_query(merchant_id=merchant_id).where(
        CardAcceptanceAgreement.id == agreement_id
    )
    if lock:
        statement = statement.with_for_update()
    agreement = await session.scalar(statement)
    if agreement is None:
        raise AcceptanceAgreementNotFound("No such acceptance agreement.", param="agreement_id")
    return agreement


def _move(
    agreement: CardAcceptanceAgreement,
    allowed: Iterable[str],
    target: AgreementStatus,
    now: datetime,
) -> None:
    if agreement.status not in allowed:
        raise IllegalAgreementTransition(
            f"A {agreement.status} agreement cannot become {target.value}.",
            details={"status": agreement.status, "target": target.value},
        )
    agreement.status = target
    agreement.updated_at = now


def available_actions(agreement: CardAcceptanceAgreement, merchant_id: str | None) -> list[str]:
    """What ``merchant_id`` may do with ``agreement`` now: the acceptor approves or rejects
    a proposal; either party ends a live one (the issuer withdraws its proposal)."""
    if merchant_id is None:
        return []
    actions: list[str] = []
    proposed = agreement.status == AgreementStatus.PROPOSED
    if proposed and agreement.acceptor_merchant_id == merchant_id:
        actions += ["approve", "reject"]
    if agreement.status == AgreementStatus.APPROVED or (
        proposed and agreement.issuer_merchant_id == merchant_id
    ):
        actions.append("revoke")
    return actions


async def decide_agreement(
    session: AsyncSession,
    agreement_id: str,
    *,
    is_approved: bool,
    merchant_id: str,
    note: str | None,
    actor: str,
    now: datetime,
) -> CardAcceptanceAgreement:
    """The acceptor approves or rejects a proposal; the issuer may not decide for it."""
    agreement = await get_agreement(session, agreement_id, merchant_id=merchant_id, lock=True)
    if agreement.acceptor_merchant_id != merchant_id:
        raise NotAgreementParty("Only the accepting merchant approves or rejects an agreement.")
    target = AgreementStatus.APPROVED if is_approved else AgreementStatus.REJECTED
    _move(agreement, [AgreementStatus.PROPOSED], target, now)
    agreement.decided_by = actor
    agreement.decided_at = now
    agreement.decision_note = note
    await session.flush()
    await _agreement_event(
        session, agreement, f"card_acceptance_agreement.{target.value}", actor, now, note=note
    )
    return agreement


async def revoke_agreement(
    session: AsyncSession,
    agreement_id: str,
    *,
    merchant_id: str,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> CardAcceptanceAgreement:
    """Either party ends the agreement (the issuer may also withdraw a proposal).

    The event lists the issuer's products that name the acceptor: from now on they cannot
    be approved or issue cards, and their cards are no longer accepted by the acceptor."""
    agreement = await get_agreement(session, agreement_id, merchant_id=merchant_id, lock=True)
    _move(agreement, LIVE_STATUSES, AgreementStatus.REVOKED, now)
    agreement.revoked_by = actor
    agreement.revoked_at = now
    await session.flush()
    affected = await products_naming(
        session, agreement.issuer_merchant_id, agreement.acceptor_merchant_id
    )
    await _agreement_event(
        session,
        agreement,
        "card_acceptance_agreement.revoked",
        actor,
        now,
        product_ids=[product.id for product in affected],
        note=note,
    )
    return agreement


async def approved_acceptors(
    session: AsyncSession, issuer_merchant_id: str, *, lock: bool = False
) -> set[str]:
    """The merchants that accept ``issuer_merchant_id``'s cards under an approved agreement.

    ``lock``: hold the agreements until commit, so a revocation racing an approval or an
    issue waits for it (and then lists the product); redemption reads without locking."""
    statement = select(CardAcceptanceAgreement.acceptor_merchant_id).where(
        CardAcceptanceAgreement.issuer_merchant_id == issuer_merchant_id,
        CardAcceptanceAgreement.status == AgreementStatus.APPROVED,
    )
    if lock:
        statement = statement.with_for_update()
    return set(await session.scalars(statement))


# --- products ----------------------------------------------------------------------------


async def _store_merchants(session: AsyncSession, store_ids: Iterable[str]) -> dict[str, str]:
    ids = sorted(set(store_ids))
    if not ids:
        return {}
    rows = await session.execute(select(Store.id, Store.merchant_id).where(Store.id.in_(ids)))
    return {store_id: merchant_id for store_id, merchant_id in rows.tuples()}


async def ensure_acceptance_agreed(
    session: AsyncSession,
    issuer_merchant_id: str,
    acceptance: str,
    store_ids: list[str],
    merchant_ids: list[str],
) -> None:
    """Every store and merchant a product names is the issuer's own or covered by an
    approved agreement, else ``acceptance_not_agreed`` (422) naming the field and ids."""
    if acceptance == Acceptance.ISSUER_STORES:
        return
    allowed = await approved_acceptors(session, issuer_merchant_id, lock=True)
    allowed.add(issuer_merchant_id)
    if acceptance == Acceptance.STORES:
        param, named = "accepted_store_ids", store_ids
        owners = await _store_merchants(session, store_ids)
        refused = [i for i in named if owners.get(i) not in allowed]
    else:
        param, named = "accepted_merchant_ids", merchant_ids
        refused = [i for i in named if i not in allowed]
    if refused:
        raise AcceptanceNotAgreed(
            f"{param}: {', '.join(refused)} — each must be the issuer's own, or belong to a "
            "merchant that has approved an acceptance agreement (受理协议) with the issuer "
            "(POST /v1/acceptance_agreements).",
            param=param,
            details={"ids": refused},
        )


async def ensure_product_acceptance(session: AsyncSession, product: CardProduct) -> None:
    """``ensure_acceptance_agreed`` for a stored product, as its terms stand."""
    await ensure_acceptance_agreed(
        session,
        product.merchant_id,
        product.acceptance,
        list(product.accepted_store_ids),
        list(product.accepted_merchant_ids),
    )


async def products_naming(
    session: AsyncSession, issuer_merchant_id: str, acceptor_merchant_id: str
) -> list[CardProduct]:
    """The issuer's products that name the acceptor or one of its stores."""
    products = (
        await session.scalars(
            select(CardProduct)
            .where(
                CardProduct.merchant_id == issuer_merchant_id,
                CardProduct.acceptance != Acceptance.ISSUER_STORES.value,
            )
            .order_by(CardProduct.id)
        )
    ).all()
    store_ids = [store_id for product in products for store_id in product.accepted_store_ids]
    owners = await _store_merchants(session, store_ids)
    return [
        product
        for product in products
        if acceptor_merchant_id in product.accepted_merchant_ids
        or acceptor_merchant_id in {owners.get(store_id) for store_id in product.accepted_store_ids}
    ]


async def is_accepted_at(
    session: AsyncSession,
    product: CardProduct,
    merchant_id: str,
    store_id: str | None,
    *,
    is_store_checked: bool = False,
) -> bool:
    """Whether ``merchant_id`` (at ``store_id``; ``None``: not at a store, e.g. online) may
    take value off a card of ``product`` now. Redemption calls this for every payment.

    The issuer accepts its cards everywhere it sells them, except that a ``stores`` product
    is accepted only at its listed stores. Anyone else needs an agreement approved *now*
    and to be named by the product (itself, or the store). ``is_store_checked``: the caller
    has already made sure, in this transaction, that the store is ``merchant_id``'s (saves
    the hot path a round trip)."""
    if store_id is not None and not is_store_checked:
        owner = await session.scalar(select(Store.merchant_id).where(Store.id == store_id))
        if owner != merchant_id:
            return False
    if product.acceptance == Acceptance.STORES and store_id not in product.accepted_store_ids:
        return False
    if merchant_id == product.merchant_id:
        return True
    if product.acceptance == Acceptance.ISSUER_STORES:
        return False
    is_named = (
        merchant_id in product.accepted_merchant_ids or store_id in product.accepted_store_ids
    )
    if not is_named:
        return False
    return merchant_id in await approved_acceptors(session, product.merchant_id)
