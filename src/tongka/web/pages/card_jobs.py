"""Card jobs the console lacked (issue 10): activate an issued card (empty, by its issuer;
or paid, by finance recording the payment), merge cards, a batch's own page where finance
activates a paid batch and the issuer learns how to open its export.

Listed before ``pages.cards`` in ``PAGE_MODULES``: its ``/cards/{id}/{action}`` route would
otherwise take ``activate``, ``fund`` and ``merge``. Every POST answers 303 (forms.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from sqlalchemy import select

from tongka.cards import numbers, service
from tongka.cards.models import Card, CardProduct
from tongka.errors import InvalidRequest
from tongka.policy import Action, scope_of
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import attempt_and_redirect, money_minor, redirect_with_error
from tongka.web.i18n import N_
from tongka.web.pages.listing import Allowed

router = console_router()

MERGE_CANDIDATES = 50  # the picker shows this many; a last-4 search narrows further


def _card_url(card_id: str) -> str:
    return f"/console/cards/{card_id}"


def _masked(card: Card) -> str:
    return numbers.mask(card.bin_prefix, card.last4, card.number_length)


# --- activate ----------------------------------------------------------------------------


@router.post("/cards/{card_id}/activate")
async def activate(
    card_id: str, console: Annotated[Console, Allowed(Action.CARD_ACTIVATE)], form: FormDep
) -> Response:
    """The issuer activates an issued card with no money on it (a member card given away)."""
    principal = console.signed_in
    merchant_id = scope_of(principal).merchant()
    await service.get_card(console.session, card_id, merchant_id=merchant_id)  # 404

    async def work() -> object:
        return await service.activate_card(
            console.session,
            card_id,
            merchant_id=merchant_id,
            actor=principal.actor,
            now=console.now,
            reason=form_text(form, "reason") or None,
            timezone=console.settings.timezone,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=_card_url(card_id), success=N_("Card activated.")
    )


@router.post("/cards/{card_id}/fund")
async def fund(
    card_id: str, console: Annotated[Console, Allowed(Action.CARD_FUND)], form: FormDep
) -> Response:
    """Finance activates an issued card whose payment arrived: the amount typed in yuan
    (it must equal the card's face value) and the payment's reference."""
    card = await service.get_card(
        console.session, card_id, merchant_id=scope_of(console.signed_in).merchant()
    )

    async def work() -> object:
        return await service.fund_card(
            console.session,
            card_id,
            transfer_reference=form_text(form, "transfer_reference"),
            amount=money_minor(form, "amount", card.currency) or 0,
            actor=console.signed_in.actor,
            now=console.now,
            timezone=console.settings.timezone,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=_card_url(card_id),
        success=N_("Payment recorded; the card is active."),
    )


# --- merge -------------------------------------------------------------------------------


async def _merge_candidates(console: Console, target: Card, last4: str | None) -> list[Card]:
    """Cards that may be merged into ``target``: the same issuer and product, active, not
    the target itself (the service re-checks everything under its locks)."""
    statement = service.cards_query(
        merchant_id=target.merchant_id,
        product_id=target.product_id,
        status=service.CardStatus.ACTIVE.value,
        last4=last4,
    ).where(Card.id != target.id)
    statement = statement.order_by(Card.created_at.desc(), Card.id.desc()).limit(MERGE_CANDIDATES)
    return list((await console.session.scalars(statement)).all())


@router.get("/cards/{card_id}/merge")
async def merge_page(
    card_id: str, console: Annotated[Console, Allowed(Action.CARD_MERGE)]
) -> Response:
    scope = scope_of(console.signed_in)
    target = await service.get_card(console.session, card_id, merchant_id=scope.merchant())
    last4 = (console.request.query_params.get("last4") or "").strip() or None
    candidates = await _merge_candidates(console, target, last4)
    balances = await service.card_balances(console.session, [target, *candidates])
    return console.render(
        "card_merge.html",
        card=target,
        masked=_masked(target),
        candidates=[(card, _masked(card)) for card in candidates],
        balances=balances,
        last4=last4 or "",
    )


@router.post("/cards/{card_id}/merge")
async def merge(
    card_id: str, console: Annotated[Console, Allowed(Action.CARD_MERGE)], form: FormDep
) -> Response:
    """并卡: the picked cards' balances move onto this card; the picked cards close."""
    principal = console.signed_in
    scope = scope_of(principal)
    await service.get_card(console.session, card_id, merchant_id=scope.merchant())  # 404
    sources = sorted({str(value) for value in form.getlist("source_card_ids") if value})
    back = f"{_card_url(card_id)}/merge"
    if not sources:
        return redirect_with_error(
            console, back, N_("Pick at least one card to merge into this one."), form
        )

    async def work() -> object:
        return await service.merge_cards(
            console.session,
            card_id,
            sources,
            **scope.cards(),
            actor=principal.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=_card_url(card_id),
        error_url=back,
        success=N_("%(count)s cards merged into this card."),
        count=len(sources),
    )


# --- batches -----------------------------------------------------------------------------


@router.get("/card_batches/{batch_id}")
async def batch_page(
    batch_id: str, console: Annotated[Console, Allowed(Action.BATCH_READ)]
) -> Response:
    """One batch: its progress and value, finance's activation once paid, the export and
    how to open it."""
    batch = await service.get_batch(
        console.session, batch_id, merchant_id=scope_of(console.signed_in).merchant()
    )
    product = await console.session.scalar(
        select(CardProduct).where(CardProduct.id == batch.product_id)
    )
    return console.render(
        "card_batch.html",
        batch=batch,
        product=product,
        batch_value=batch.total * batch.face_value,
        is_fundable=batch.status == service.BatchStatus.COMPLETED and batch.funded_at is None,
        is_exportable=batch.status == service.BatchStatus.COMPLETED and batch.exported_at is None,
    )


@router.post("/card_batches/{batch_id}/activate")
async def activate_batch(
    batch_id: str, console: Annotated[Console, Allowed(Action.BATCH_FUND)], form: FormDep
) -> Response:
    """Finance activates a batch paid by bank transfer: the amount in yuan must equal the
    batch's value; one ledger transaction credits every card."""
    batch = await service.get_batch(console.session, batch_id, merchant_id=None)  # 404
    url = f"/console/card_batches/{batch_id}"

    async def work() -> object:
        reference = form_text(form, "transfer_reference")
        if not reference:
            raise InvalidRequest(N_("Give the payment's reference."), param="transfer_reference")
        return await service.fund_batch(
            console.session,
            batch_id,
            transfer_reference=reference,
            amount=money_minor(form, "amount", batch.currency) or 0,
            actor=console.signed_in.actor,
            now=console.now,
            timezone=console.settings.timezone,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=url,
        success=N_("Payment recorded; every card of the batch is active."),
    )
