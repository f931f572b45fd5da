"""Card pages: products (create, review), card search and detail with lifecycle actions,
batches with progress and the one-time export. Thin: every action is a ``cards.service``
call, scoped exactly as the API scopes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Response
from starlette.datastructures import FormData

from tongka.cards import numbers, service
from tongka.cards.keys import card_keys
from tongka.cards.models import Card, CardBatch, CardProduct
from tongka.currencies import enabled_currencies, require_enabled
from tongka.edge.no_store import shows_secret
from tongka.errors import InvalidRequest
from tongka.money import Money
from tongka.policy import CARD_LIFECYCLE, Action, authorize, scope_of
from tongka.web.console import Console, FormDep, SignedInDep, console_router, form_text
from tongka.web.consumer_home import HomeSection, consumer_home_section
from tongka.web.i18n import N_
from tongka.web.pages.listing import Allowed, page_of, render_list

router = console_router()


def _yuan(form: FormData, name: str, currency: str) -> int:
    """A money field typed in yuan (``100`` or ``99.50``) as minor units."""
    try:
        return Money.parse(form_text(form, name), currency).minor_units
    except InvalidRequest as exc:
        # the money error's code and details stay, so the page says what was wrong in words
        raise InvalidRequest(
            f"{name}: {exc.message}", code=exc.code, param=name, details=exc.details
        ) from exc


def _yuan_list(form: FormData, name: str, currency: str) -> list[int] | None:
    text = form_text(form, name)
    if not text:
        return None
    return [Money.parse(part.strip(), currency).minor_units for part in text.split(",") if part]


def _form_currency(form: FormData) -> str:
    """The form's currency (default: the platform's first); refused unless accepted."""
    return require_enabled(form_text(form, "currency") or enabled_currencies()[0])


def _optional_int(form: FormData, name: str) -> int | None:
    text = form_text(form, name)
    if not text:
        return None
    if not text.isdigit():
        raise InvalidRequest(
            f"{name} must be a whole number.", code="not_a_whole_number", param=name
        )
    return int(text)


def _ratio(form: FormData) -> Decimal | None:
    text = form_text(form, "exchange_ratio")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise InvalidRequest(
            "exchange_ratio must be a decimal.", code="not_a_decimal", param="exchange_ratio"
        ) from exc


def product_spec_from_form(form: FormData) -> service.ProductSpec:
    currency = _form_currency(form)
    return service.ProductSpec(
        name=form_text(form, "name"),
        currency=currency,
        bin_prefix=form_text(form, "bin_prefix"),
        number_length=_optional_int(form, "number_length") or 16,
        max_balance=_yuan(form, "max_balance", currency),
        is_named=form_text(form, "is_named") == "on",
        form=service.CardForm(form_text(form, "form") or "virtual"),
        face_values=_yuan_list(form, "face_values", currency),
        validity_months=_optional_int(form, "validity_months"),
        breakage_policy=service.BreakagePolicy(form_text(form, "breakage_policy") or "forfeit"),
        exchange_grace_days=_optional_int(form, "exchange_grace_days"),
        exchange_ratio=_ratio(form),
    )


# --- products ----------------------------------------------------------------------------


async def _products_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = service.products_query(merchant_id=scope_of(console.signed_in).merchant())
    return await render_list(
        console,
        "card_products.html",
        "products",
        statement,
        CardProduct,
        status_code,
        capacity=lambda product: numbers.capacity(product.bin_prefix, product.number_length),
        **context,
    )


async def _act(
    console: Console,
    work: Callable[[], Awaitable[object]],
    *,
    success_url: str,
    form_page: Callable[..., Awaitable[Response]],
) -> Response:
    _, error = await console.attempt(work)
    if error:
        return await form_page(console, 400, error=error)
    return console.redirect(success_url)


@router.get("/card_products")
async def products_page(console: Annotated[Console, Allowed(Action.PRODUCT_READ)]) -> Response:
    return await _products_page(console)


@router.post("/card_products")
async def create_product(
    console: Annotated[Console, Allowed(Action.PRODUCT_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in

    async def work() -> object:
        return await service.create_product(
            console.session,
            str(principal.merchant_id),
            product_spec_from_form(form),
            actor=principal.actor,
            now=console.now,
        )

    if principal.merchant_id is None:
        return await _products_page(
            console,
            400,
            error=console.gettext("Card products are created by their issuing merchant."),
        )
    return await _act(console, work, success_url="/console/card_products", form_page=_products_page)


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

    return await _act(console, work, success_url="/console/card_products", form_page=_products_page)


@router.post("/card_products/{product_id}/{decision}")
async def review_product(
    product_id: str,
    decision: str,
    console: Annotated[Console, Allowed(Action.PRODUCT_REVIEW)],
    form: FormDep,
) -> Response:
    if decision not in ("approve", "reject"):
        raise InvalidRequest("Unknown decision.")

    async def work() -> object:
        return await service.review_product(
            console.session,
            product_id,
            is_approved=decision == "approve",
            note=form_text(form, "note") or None,
            principal=console.signed_in,
            now=console.now,
        )

    return await _act(console, work, success_url="/console/card_products", form_page=_products_page)


# --- cards -------------------------------------------------------------------------------


def _search(console: Console) -> dict[str, str | None]:
    query = console.request.query_params
    return {
        name: (query.get(name) or "").strip() or None
        for name in ("last4", "holder_id", "product_id", "status")
    }


@router.get("/cards")
async def cards_page(console: Annotated[Console, Allowed(Action.CARD_SEARCH)]) -> Response:
    search = _search(console)
    statement = service.cards_query(merchant_id=scope_of(console.signed_in).merchant(), **search)
    rows, next_after = await page_of(console, statement, Card)
    balances = await service.card_balances(console.session, rows)
    return console.render(
        "cards.html",
        cards=rows,
        balances=balances,
        search=search,
        next_after=next_after,
        masked=_masked,
        statuses=[status.value for status in service.CardStatus],
    )


def _masked(card: Card) -> str:
    return numbers.mask(card.bin_prefix, card.last4, card.number_length)


async def _card_page(
    console: Console, card_id: str, status_code: int = 200, **context: Any
) -> Response:
    card = await service.get_card(
        console.session, card_id, merchant_id=scope_of(console.signed_in).merchant()
    )
    balance = await service.card_balance(console.session, card)
    history = await service.card_history(console.session, card, limit=50)
    return console.render(
        "card.html",
        status_code=status_code,
        card=card,
        balance=balance,
        history=history,
        masked=_masked(card),
        actions=service.LIFECYCLE_ACTIONS,
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
    principal = console.signed_in
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
            reason=form_text(form, "reason") or None,
        )

    issued, error = await console.attempt(work)
    if error or issued is None:
        return await _card_page(console, card_id, 400, error=error)
    # the new card's number and secret: shown on this one response, never again
    return await _card_page(console, issued.card.id, issued=issued)


@router.post("/cards/{card_id}/{action}")
async def lifecycle_action(
    card_id: str, action: str, console: SignedInDep, form: FormDep
) -> Response:
    if action not in service.LIFECYCLE_ACTIONS:
        raise InvalidRequest("Unknown action.")
    principal = console.signed_in
    authorize(principal, CARD_LIFECYCLE[action])
    await service.get_card(
        console.session, card_id, merchant_id=scope_of(principal).merchant()
    )  # 404

    async def work() -> object:
        return await service.apply_lifecycle_action(
            console.session,
            card_id,
            action,
            merchant_id=scope_of(principal).merchant(),
            principal=principal,
            now=console.now,
            reason=form_text(form, "reason") or None,
        )

    _, error = await console.attempt(work)
    if error:
        return await _card_page(console, card_id, 400, error=error)
    return console.redirect(f"/console/cards/{card_id}")


# --- batches -----------------------------------------------------------------------------


async def _batches_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    scope = scope_of(console.signed_in).merchant()
    products = [
        product
        for product in await service.list_products(console.session, merchant_id=scope)
        if product.status == service.ProductStatus.ACTIVE and not product.is_named
    ]
    return await render_list(
        console,
        "card_batches.html",
        "batches",
        service.batches_query(merchant_id=scope),
        CardBatch,
        status_code,
        products=products,
        **context,
    )


@router.get("/card_batches")
async def batches_page(console: Annotated[Console, Allowed(Action.BATCH_READ)]) -> Response:
    if console.request.headers.get("HX-Request") and console.request.query_params.get("rows"):
        scope = scope_of(console.signed_in).merchant()
        rows, _ = await page_of(console, service.batches_query(merchant_id=scope), CardBatch)
        return console.render("_card_batch_rows.html", batches=rows)
    return await _batches_page(console)


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
            count=_optional_int(form, "count") or 0,
            face_value=_yuan(form, "face_value", product.currency),
            export_password=form_text(form, "export_password"),
            reference=form_text(form, "reference") or None,
            actor=principal.actor,
            now=console.now,
        )

    return await _act(console, work, success_url="/console/card_batches", form_page=_batches_page)


@router.post("/card_batches/{batch_id}/export")
@shows_secret
async def take_export(
    batch_id: str, console: Annotated[Console, Allowed(Action.BATCH_EXPORT)], form: FormDep
) -> Response:
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

    content, error = await console.attempt(work)
    if error or content is None:
        return await _batches_page(console, 400, error=error)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}.tkx"'},
    )


@consumer_home_section("cards")
async def my_cards(console: Console) -> HomeSection | None:
    """The signed-in holder's cards (我的卡) with their balances, masked."""
    statement = service.cards_query(holder_id=console.signed_in.consumer_id or "-")
    cards = list((await console.session.scalars(statement.order_by(Card.id.desc()))).all())
    balances = await service.card_balances(console.session, cards)
    rows = [{"masked": _masked(card), "card": card, "balance": balances[card.id]} for card in cards]
    return HomeSection(N_("Cards"), "_consumer_cards.html", {"cards": rows})
