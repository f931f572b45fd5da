"""Card pages: products (create, review), card search and detail with lifecycle actions,
batches with progress and the one-time export. Thin: every action is a ``cards.service``
call, scoped exactly as the API scopes it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Response
from starlette.datastructures import FormData

from tongka.cards import service
from tongka.cards.keys import card_keys
from tongka.cards.lifecycle import available_actions, check_may_lift_freeze
from tongka.cards.models import Card
from tongka.cards.products import available_actions as product_actions
from tongka.currencies import enabled_currencies, require_enabled
from tongka.edge.no_store import shows_secret
from tongka.errors import DomainError, InvalidRequest, NotFound
from tongka.policy import CARD_LIFECYCLE, Action, allowed, authorize, scope_of
from tongka.web.console import (
    Console,
    FormDep,
    SignedInDep,
    console_router,
    form_text,
    optional_whole_number,
    whole_number,
)
from tongka.web.consumer_home import HomeSection, consumer_home_section
from tongka.web.forms import attempt_and_redirect, money_minor, required_reason
from tongka.web.i18n import N_
from tongka.web.names import load_names
from tongka.web.pages.card_lists import BATCHES, CARDS, PRODUCTS, capacity, masked_number
from tongka.web.pages.listing import Allowed

router = console_router()


def _yuan(form: FormData, name: str, currency: str) -> int:
    """A money field typed in yuan (``100`` or ``99.50``) as exact minor units (refused at
    the field: not a number, more than two decimals)."""
    return int(money_minor(form, name, currency) or 0)


def _yuan_list(form: FormData, name: str, currency: str) -> list[int] | None:
    """Face values typed in yuan, comma-separated (``100,500``)."""
    text = form_text(form, name).replace("，", ",")
    if not text:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    return [int(money_minor({name: part}, name, currency) or 0) for part in parts]


def _form_currency(form: FormData) -> str:
    """The form's currency (default: the platform's first); refused unless accepted."""
    return require_enabled(form_text(form, "currency") or enabled_currencies()[0])


def _ratio(form: FormData) -> Decimal | None:
    text = form_text(form, "exchange_ratio")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise InvalidRequest(
            N_("Type a decimal number, e.g. 0.9."), code="not_a_decimal", param="exchange_ratio"
        ) from exc


def product_spec_from_form(form: FormData) -> service.ProductSpec:
    currency = _form_currency(form)
    return service.ProductSpec(
        name=form_text(form, "name"),
        currency=currency,
        bin_prefix=form_text(form, "bin_prefix"),
        number_length=optional_whole_number(form, "number_length") or 16,
        max_balance=_yuan(form, "max_balance", currency),
        is_named=form_text(form, "is_named") == "on",
        form=service.CardForm(form_text(form, "form") or "virtual"),
        face_values=_yuan_list(form, "face_values", currency),
        validity_months=optional_whole_number(form, "validity_months"),
        breakage_policy=service.BreakagePolicy(form_text(form, "breakage_policy") or "forfeit"),
        exchange_grace_days=optional_whole_number(form, "exchange_grace_days"),
        exchange_ratio=_ratio(form),
        is_bonus_spent_first=form_text(form, "is_bonus_spent_first") == "on",
    )


# --- products ----------------------------------------------------------------------------


async def _products_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = service.products_query(merchant_id=scope_of(console.signed_in).merchant())
    return await PRODUCTS.render(
        console,
        statement,
        "card_products.html",
        status_code,
        capacity=capacity,
        product_actions=product_actions,
        **context,
    )


PRODUCTS_URL = "/console/card_products"
PRODUCT_DONE = {
    "submit": N_("The product was submitted for review."),
    "approve": N_("The product is approved: it can issue cards."),
    "reject": N_("The product was rejected; its merchant sees the reason."),
}


@router.get("/card_products")
async def products_page(console: Annotated[Console, Allowed(Action.PRODUCT_READ)]) -> Response:
    return await _products_page(console)


@router.post("/card_products")
async def create_product(
    console: Annotated[Console, Allowed(Action.PRODUCT_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in
    if principal.merchant_id is None:
        return console.redirect_with_error(
            PRODUCTS_URL, N_("Card products are created by their issuing merchant."), form
        )

    async def work() -> object:
        return await service.create_product(
            console.session,
            str(principal.merchant_id),
            product_spec_from_form(form),
            actor=principal.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=PRODUCTS_URL, success=N_("The card product was created.")
    )


@router.post("/card_products/{product_id}/submit")
async def submit_product(
    product_id: str, console: Annotated[Console, Allowed(Action.PRODUCT_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in

    async def work() -> object:
        return await service.submit_product(
            console.session,
            product_id,
            merchant_id=scope_of(principal).merchant(),
            actor=principal.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=PRODUCTS_URL, success=PRODUCT_DONE["submit"]
    )


@router.post("/card_products/{product_id}/{decision}")
async def review_product(
    product_id: str,
    decision: str,
    console: Annotated[Console, Allowed(Action.PRODUCT_REVIEW)],
    form: FormDep,
) -> Response:
    """Approve, or reject with a reason (the merchant reads it on its products page)."""
    if decision not in ("approve", "reject"):
        raise NotFound(N_("No such action."))

    async def work() -> object:
        note = required_reason(form, "note") if decision == "reject" else None
        return await service.review_product(
            console.session,
            product_id,
            is_approved=decision == "approve",
            note=note or form_text(form, "note") or None,
            principal=console.signed_in,
            now=console.now,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=PRODUCTS_URL, success=PRODUCT_DONE[decision]
    )


# --- cards -------------------------------------------------------------------------------


@router.get("/cards")
async def cards_page(console: Annotated[Console, Allowed(Action.CARD_SEARCH)]) -> Response:
    statement = service.cards_query(merchant_id=scope_of(console.signed_in).merchant())
    return await CARDS.render(console, statement, "cards.html", masked=masked_number)


# what each card action needs of the caller (the policy table's actions)
CARD_ACTION_POLICY: dict[str, Action] = {
    **CARD_LIFECYCLE,
    "reissue": Action.CARD_REISSUE,
    "activate": Action.CARD_ACTIVATE,
    "merge": Action.CARD_MERGE,
}
CARD_DONE = {
    "freeze": N_("The card is frozen: nothing can be spent from it."),
    "unfreeze": N_("The card is active again."),
    "report_lost": N_("The card is reported lost; reissue it to move its balance."),
    "close": N_("The card is closed."),
}
# destructive: asked for a reason (recorded with the card's event)
NEEDS_REASON = frozenset({"report_lost", "close", "reissue"})


def card_actions(console: Console, card: Card) -> list[str]:
    """The actions this page offers for ``card``: allowed from its status, to the caller's
    role, and (out of ``frozen``) only to the freeze's side or the platform."""
    principal = console.signed_in
    offered = []
    for action in available_actions(card):
        policy = CARD_ACTION_POLICY.get(action)
        if policy is None or not allowed(principal, policy):
            continue
        if card.status == service.CardStatus.FROZEN and action != "freeze":
            try:
                check_may_lift_freeze(card, principal)
            except DomainError:
                continue
        offered.append(action)
    return offered


async def _card_page(
    console: Console, card_id: str, status_code: int = 200, **context: Any
) -> Response:
    card = await service.get_card(
        console.session, card_id, merchant_id=scope_of(console.signed_in).merchant()
    )
    balance = await service.card_balance(console.session, card)
    history = await service.card_history(console.session, card, limit=50)
    names = await load_names(
        console.session,
        merchants=[card.merchant_id],
        products=[card.product_id],
        holders=[card.holder_id],
        cards=[card.replaced_by_card_id],
    )
    return console.render(
        "card.html",
        status_code=status_code,
        card=card,
        balance=balance,
        history=history,
        masked=masked_number(card),
        names=names,
        actions=card_actions(console, card),
        **context,
    )


@router.get("/cards/{card_id}")
async def card_page(
    card_id: str, console: Annotated[Console, Allowed(Action.CARD_SEARCH)]
) -> Response:
    return await _card_page(console, card_id)


@router.post("/cards/{card_id}/reissue")
@shows_secret
async def reissue(
    card_id: str, console: Annotated[Console, Allowed(Action.CARD_REISSUE)], form: FormDep
) -> Response:
    """补卡: the new card's number and secret show on this response only (rendered here,
    not redirected; ``HX-Replace-Url`` puts the new card's address in the bar, and a
    reload of this address is a GET that leads to the old card's page)."""
    principal = console.signed_in
    page = f"/console/cards/{card_id}"
    await service.get_card(
        console.session, card_id, merchant_id=scope_of(principal).merchant()
    )  # 404

    async def work() -> service.IssuedCard:
        return await service.reissue_card(
            console.session,
            card_id,
            merchant_id=scope_of(principal).merchant(),
            keys=card_keys(console.settings),
            actor=principal.actor,
            now=console.now,
            reason=required_reason(form),
        )

    issued, exc = await console.attempt_error(work)
    if exc is not None or issued is None:
        return console.redirect_with_error(page, exc or N_("The card was not reissued."), form)
    response = await _card_page(console, issued.card.id, issued=issued)
    response.headers["HX-Replace-Url"] = f"/console/cards/{issued.card.id}"
    return response


@router.post("/cards/{card_id}/{action}")
async def lifecycle_action(
    card_id: str, action: str, console: SignedInDep, form: FormDep
) -> Response:
    if action not in service.LIFECYCLE_ACTIONS:
        raise NotFound(N_("No such action."))
    principal = console.signed_in
    authorize(principal, CARD_LIFECYCLE[action])
    page = f"/console/cards/{card_id}"
    await service.get_card(
        console.session, card_id, merchant_id=scope_of(principal).merchant()
    )  # 404

    async def work() -> object:
        reason = required_reason(form) if action in NEEDS_REASON else None
        return await service.apply_lifecycle_action(
            console.session,
            card_id,
            action,
            merchant_id=scope_of(principal).merchant(),
            principal=principal,
            now=console.now,
            reason=reason or form_text(form, "reason") or None,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=page, success=CARD_DONE[action]
    )


# --- batches -----------------------------------------------------------------------------


async def _batches_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    scope = scope_of(console.signed_in).merchant()
    products = [
        product
        for product in await service.list_products(console.session, merchant_id=scope)
        if product.status == service.ProductStatus.ACTIVE and not product.is_named
    ]
    return await BATCHES.render(
        console,
        service.batches_query(merchant_id=scope),
        "card_batches.html",
        status_code,
        products=products,
        product_choices=[(p.id, f"{p.name} ({p.bin_prefix})") for p in products],
        **context,
    )


@router.get("/card_batches")
async def batches_page(console: Annotated[Console, Allowed(Action.BATCH_READ)]) -> Response:
    """The batches; ``?rows=1`` (HTMX, every few seconds) answers only this page's rows,
    so the progress bars move."""
    if console.request.headers.get("HX-Request") and console.request.query_params.get("rows"):
        statement = service.batches_query(merchant_id=scope_of(console.signed_in).merchant())
        listing = await BATCHES.page(console, statement)
        return console.render("_card_batch_rows.html", listing=listing, **listing.extras)
    return await _batches_page(console)


BATCHES_URL = "/console/card_batches"


@router.post("/card_batches")
async def create_batch(
    console: Annotated[Console, Allowed(Action.BATCH_CREATE)], form: FormDep
) -> Response:
    principal = console.signed_in

    async def work() -> object:
        product_id = form_text(form, "product_id")
        product = await service.get_product(
            console.session, product_id, merchant_id=scope_of(principal).merchant()
        )
        return await service.create_batch(
            console.session,
            product_id,
            merchant_id=scope_of(principal).merchant(),
            count=whole_number(form, "count"),
            face_value=_yuan(form, "face_value", product.currency),
            export_password=form_text(form, "export_password"),
            reference=form_text(form, "reference") or None,
            actor=principal.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=BATCHES_URL,
        success=N_("The batch was created; its cards are being made."),
    )


@router.post("/card_batches/{batch_id}/export")
@shows_secret
async def take_export(
    batch_id: str, console: Annotated[Console, Allowed(Action.BATCH_EXPORT)], form: FormDep
) -> Response:
    """The one-time export file, downloaded from this response (a reload is a GET that
    leads back to the batches page: the file is never made twice)."""
    principal = console.signed_in
    await service.get_batch(
        console.session, batch_id, merchant_id=scope_of(principal).merchant()
    )  # 404

    async def work() -> str:
        return await service.take_export(
            console.session,
            batch_id,
            merchant_id=scope_of(principal).merchant(),
            actor=principal.actor,
            now=console.now,
        )

    content, exc = await console.attempt_error(work)
    if exc is not None or content is None:
        return console.redirect_with_error(BATCHES_URL, exc or N_("No export was made."), form)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{batch_id}.tkx"',
            "HX-Replace-Url": BATCHES_URL,
        },
    )


@consumer_home_section("cards")
async def my_cards(console: Console) -> HomeSection | None:
    """The signed-in holder's cards (我的卡) with their balances, masked."""
    statement = service.cards_query(**scope_of(console.signed_in).cards())
    cards = list((await console.session.scalars(statement.order_by(Card.id.desc()))).all())
    balances = await service.card_balances(console.session, cards)
    rows = [
        {"masked": masked_number(card), "card": card, "balance": balances[card.id]}
        for card in cards
    ]
    return HomeSection(N_("Cards"), "_consumer_cards.html", {"cards": rows})
