"""The cashier page (收银台, ``/console/till``): redeem a card at a store and see the answer.

A store-bound user redeems at their store; a merchant's other users pick the store first
(``?store_id=``). The cashier types or scans a card number (with its secret) or a holder's
payment code, and an amount in yuan (``forms.money_minor``: exact fen). Every POST answers
303 (Post/Redirect/Get): the answer is a recorded purchase, shown by the page it lands on
(``?purchase=``) — approved with its paid and bonus parts and the balance left, declined
with the reason in words (the error registry), or a field for the holder's texted code
(``?challenge=``). The form carries a fresh idempotency key, so sending it twice redeems
once. Below: the store's latest redemptions, each with the actions its state and the
caller's role allow (refund with amount and confirmation, void a hold, reverse 冲正).

The work is ``tongka.redemption.till`` (the core's public ``service.redeem`` and
``aftercare``); this module reads forms and words answers.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Response
from sqlalchemy import select

from tongka.cards.keys import card_keys
from tongka.currencies import enabled_currencies
from tongka.errors import BusinessRuleViolation, InvalidRequest
from tongka.identity import service as identity
from tongka.identity.models import Terminal
from tongka.ids import new_id
from tongka.policy import Action, scope_of
from tongka.redemption import aftercare, till
from tongka.redemption.models import Redemption
from tongka.web import forms, pickers
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import money_minor
from tongka.web.i18n import N_
from tongka.web.names import load_names
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
TILL = "/console/till"
register_nav_item(
    NavItem("till", N_("Cashier desk"), TILL, Action.REDEMPTION_CREATE), before="review"
)
# never carried back into the form: the card number (or a payment code) and the secret
TYPED_SECRETS = frozenset({"card", "secret", "code"})
CHOOSE_STORE = N_("Choose the store you are redeeming at.")
# answers after which the page offers the holder's code field (while the challenge is open)
CHALLENGE_ANSWERABLE = ("challenge_required", "challenge_failed")


def till_url(store_id: str | None = None, **params: str | None) -> str:
    query = {"store_id": store_id, **params}
    filled = {name: value for name, value in query.items() if value}
    return f"{TILL}?{urlencode(filled)}" if filled else TILL


def _merchant_and_store(console: Console, requested: str | None) -> tuple[str, str | None]:
    """The caller's merchant, and the store: a store-bound caller's own, else the one asked
    for (checked against the merchant by the service and the queries)."""
    scope = scope_of(console.signed_in)
    merchant_id = scope.merchant()
    assert merchant_id is not None  # REDEMPTION_CREATE is granted to merchants only
    return merchant_id, scope.store(requested or None)


def decline_words(console: Console, code: str | None) -> str:
    """A decline's reason for people: the registry's words for its code."""
    if not code:
        return ""
    return forms.error_text(console, BusinessRuleViolation(code, code=code))


async def _terminals(console: Console, merchant_id: str, store_id: str) -> list[Terminal]:
    statement = select(Terminal).where(
        Terminal.merchant_id == merchant_id,
        Terminal.store_id == store_id,
        Terminal.status == "active",
    )
    return list((await console.session.scalars(statement.order_by(Terminal.created_at))).all())


async def _answer(
    console: Console, merchant_id: str, store_id: str | None, query: Any
) -> dict[str, Any]:
    """The context of the purchase the page was sent back with (none if not the caller's)."""
    purchase_id = query.get("purchase") or ""
    records = (
        await till.purchase_records(
            console.session, purchase_id, merchant_id=merchant_id, store_id=store_id
        )
        if purchase_id
        else []
    )
    if not records:
        return {}
    challenge = None
    if query.get("challenge") and records[0].decline_code in CHALLENGE_ANSWERABLE:
        challenge = await till.pending_challenge(
            console.session, query["challenge"], merchant_id=merchant_id, now=console.now
        )
    record = records[0]
    return {
        "answer": record,
        "answer_words": decline_words(console, record.decline_code),
        "answer_left": record.requested - record.amount,
        "challenge": challenge,
        "partial": query.get("partial") == "1",
    }


@router.get("/till")
async def till_page(console: Annotated[Console, Allowed(Action.REDEMPTION_CREATE)]) -> Response:
    query = console.request.query_params
    merchant_id, store_id = _merchant_and_store(console, query.get("store_id"))
    context: dict[str, Any] = {
        "store_id": store_id,
        "is_store_bound": console.signed_in.store_id is not None,
        "store_choices": await pickers.preloaded(console, "stores", store_id),
        "currency": enabled_currencies()[0],
        "idempotency_key": new_id("till"),
        "till_url": till_url,
    }
    if store_id is not None:
        # another merchant's store is not found (404), as on the stores page
        store = await identity.get_store(console.session, store_id, merchant_id=merchant_id)
        recent = await till.recent_at_store(
            console.session, merchant_id=merchant_id, store_id=store_id
        )
        answer = await _answer(console, merchant_id, store_id, query)
        shown = [*recent, answer["answer"]] if answer else recent
        context.update(
            store=store,
            terminals=[
                (terminal.id, terminal.name or terminal.device_id)
                for terminal in await _terminals(console, merchant_id, store_id)
            ],
            recent=recent,
            refund_keys={record.id: new_id("rfk") for record in recent},
            decline_words=lambda code: decline_words(console, code),
            actions={record.id: till.available_actions(record, console.now) for record in recent},
            shown_status={
                record.id: aftercare.shown_status(record, console.now) for record in shown
            },
            names=await load_names(console.session, cards=[record.card_id for record in shown]),
            **answer,
        )
    return console.render("till.html", **context)


def _till_request(console: Console, form: Any, store_id: str | None) -> till.TillRequest:
    merchant_id, store = _merchant_and_store(console, store_id)
    if store is None:
        raise InvalidRequest(CHOOSE_STORE, code="field_required", param="store_id")
    currency = enabled_currencies()[0]
    return till.TillRequest(
        merchant_id=merchant_id,
        store_id=store,
        terminal_id=form_text(form, "terminal_id") or None,
        card=form_text(form, "card"),
        secret=form_text(form, "secret"),
        amount=money_minor(form, "amount", currency) or 0,
        currency=currency,
        allow_partial=form_text(form, "allow_partial") in ("on", "1", "true"),
        idempotency_key=form_text(form, "idempotency_key")[:200] or new_id("till"),
        actor=console.signed_in.actor,
    )


def _context(console: Console) -> till.TillContext:
    return till.TillContext(
        keys=card_keys(console.settings),
        fee_rate=console.settings.redemption_fee_rate,
        now=console.now,
        settings=console.settings,
    )


def _after(
    console: Console,
    store_id: str | None,
    purchase: Any,
    form: Any,
    answered: str | None = None,
) -> Response:
    """303 to the till with the purchase's answer, and the challenge still to answer: a
    new one, or (``answered``) the one whose code was wrong, while it has tries left."""
    retry = answered if purchase.decline_code == "challenge_failed" else None
    url = till_url(
        store_id if console.signed_in.store_id is None else None,
        purchase=purchase.id,
        challenge=purchase.challenge_id or retry,
        partial="1" if form_text(form, "allow_partial") in ("on", "1", "true") else None,
    )
    return console.redirect_after(url)


@router.post("/till/redemptions")
async def redeem(
    console: Annotated[Console, Allowed(Action.REDEMPTION_CREATE)], form: FormDep
) -> Response:
    store_id = form_text(form, "store_id") or None
    back = till_url(store_id if console.signed_in.store_id is None else None)

    async def work() -> object:
        return await till.redeem_at_till(
            console.session, _till_request(console, form, store_id), _context(console)
        )

    purchase, exc = await console.attempt_error(work)
    if exc is not None:
        forms.raise_page_errors(exc, form)
        return forms.redirect_with_error(console, back, exc, form, secret=TYPED_SECRETS)
    return _after(console, store_id, purchase, form)


@router.post("/till/challenges/{challenge_id}")
async def confirm(
    challenge_id: str,
    console: Annotated[Console, Allowed(Action.REDEMPTION_CREATE)],
    form: FormDep,
) -> Response:
    """The holder read out the texted code: redeem again with it."""
    store_id = form_text(form, "store_id") or None
    purchase_id = form_text(form, "purchase_id")
    back = till_url(
        store_id if console.signed_in.store_id is None else None,
        purchase=purchase_id,
        challenge=challenge_id,
    )

    async def work() -> object:
        code = form_text(form, "code")
        if not code:
            raise InvalidRequest(
                N_("Type the code texted to the holder."), code="field_required", param="code"
            )
        merchant_id, store = _merchant_and_store(console, store_id)
        request = till.TillRequest(
            merchant_id=merchant_id,
            store_id=store,
            terminal_id=None,
            card="",
            secret="",
            amount=0,
            currency=enabled_currencies()[0],
            allow_partial=form_text(form, "allow_partial") == "1",
            idempotency_key=form_text(form, "idempotency_key")[:200] or new_id("till"),
            actor=console.signed_in.actor,
        )
        return await till.confirm_at_till(
            console.session, challenge_id, code, request, _context(console)
        )

    purchase, exc = await console.attempt_error(work)
    if exc is not None:
        forms.raise_page_errors(exc, form)
        return forms.redirect_with_error(console, back, exc, form, secret=TYPED_SECRETS)
    return _after(console, store_id, purchase, form, answered=challenge_id)


async def _record(console: Console, redemption_id: str) -> Redemption:
    scope = scope_of(console.signed_in)
    merchant_id = scope.merchant()
    assert merchant_id is not None
    return await till.record_for_till(
        console.session, redemption_id, merchant_id=merchant_id, store_id=scope.store()
    )


def _back_to_store(console: Console, record: Redemption) -> str:
    return till_url(record.store_id if console.signed_in.store_id is None else None)


@router.post("/till/redemptions/{redemption_id}/refund")
async def refund(
    redemption_id: str,
    console: Annotated[Console, Allowed(Action.REDEMPTION_REFUND)],
    form: FormDep,
) -> Response:
    """A refund onto the card: the amount in yuan (empty: all that is left), confirmed."""
    record = await _record(console, redemption_id)
    back = _back_to_store(console, record)

    async def work() -> object:
        amount = money_minor(form, "amount", record.currency, required=False)
        return await till.refund_at_till(
            console.session,
            record,
            amount,
            refund_key=form_text(form, "idempotency_key")[:200] or new_id("rfk"),
            reason=form_text(form, "reason") or None,
            actor=console.signed_in.actor,
            now=console.now,
        )

    return await forms.attempt_and_redirect(
        console, work, form, success_url=back, success=N_("Refunded onto the card.")
    )


@router.post("/till/redemptions/{redemption_id}/void")
async def void(
    redemption_id: str,
    console: Annotated[Console, Allowed(Action.REDEMPTION_CREATE)],
    form: FormDep,
) -> Response:
    record = await _record(console, redemption_id)

    async def work() -> object:
        return await aftercare.void(
            console.session,
            record,
            actor=console.signed_in.actor,
            now=console.now,
            settings=console.settings,
        )

    return await forms.attempt_and_redirect(
        console,
        work,
        form,
        success_url=_back_to_store(console, record),
        success=N_("The hold is released; the value is back on the card."),
    )


@router.post("/till/redemptions/{redemption_id}/reverse")
async def reverse(
    redemption_id: str,
    console: Annotated[Console, Allowed(Action.REDEMPTION_REVERSE)],
    form: FormDep,
) -> Response:
    """冲正: undo the whole purchase this record belongs to (by its idempotency key)."""
    record = await _record(console, redemption_id)
    forms.log_reason(console, "redemption.reverse", record.id, form_text(form, "reason"))

    async def work() -> object:
        return await aftercare.reverse(
            console.session,
            record.merchant_id,
            record.idempotency_key,
            actor=console.signed_in.actor,
            now=console.now,
            settings=console.settings,
        )

    return await forms.attempt_and_redirect(
        console,
        work,
        form,
        success_url=_back_to_store(console, record),
        success=N_("The purchase is reversed; its value is back on the card."),
    )
