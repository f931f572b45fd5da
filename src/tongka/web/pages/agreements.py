"""Consent pages: acceptance agreements (受理协议) between merchants, and the card holder's
confirmation of a binding (绑卡确认) on 我的卡.

The accepting merchant sees the proposals made to it and approves or rejects them; either
party revokes; an issuer proposes. Thin: every action is a ``cards.service`` call, scoped
as the API scopes it (anyone who is no party: not found).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Response

from tongka.cards import binding, service
from tongka.cards.acceptance import available_actions
from tongka.cards.models import Card, CardAcceptanceAgreement, CardHolderBinding
from tongka.errors import NotFound, PermissionDenied
from tongka.identity.models import Merchant
from tongka.identity.principal import PrincipalKind
from tongka.policy import Action, scope_of
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.consumer_home import HomeSection, consumer_home_section
from tongka.web.forms import attempt_and_redirect, required_reason
from tongka.web.i18n import N_
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed, render_list

router = console_router()
PAGE = "/console/acceptance_agreements"
BINDING_FAILURES = {
    binding.CODE_INVALID: N_(
        "The code is wrong or no longer valid; check it or ask the merchant for a new one."
    ),
    binding.CODE_EXPIRED: N_("The code has expired; ask the merchant for a new one."),
    binding.CODE_LOCKED: N_("Too many wrong attempts; ask the merchant for a new code."),
}

register_nav_item(
    NavItem(
        "acceptance_agreements",
        N_("Acceptance agreements"),
        PAGE,
        Action.AGREEMENT_READ,
    ),
    before="cards",
)


async def _agreements_page(console: Console, status_code: int = 200, **context: Any) -> Response:
    statement = service.agreements_query(merchant_id=scope_of(console.signed_in).merchant())
    return await render_list(
        console,
        "acceptance_agreements.html",
        "agreements",
        statement,
        CardAcceptanceAgreement,
        status_code,
        agreement_actions=lambda agreement: available_actions(
            agreement, console.signed_in.merchant_id
        ),
        **context,
    )


AGREEMENT_DONE = {
    "propose": N_("The agreement was proposed; the other merchant decides."),
    "approve": N_("The agreement is in force."),
    "reject": N_("The proposal was rejected."),
    "revoke": N_("The agreement has ended."),
}


async def _act(console: Console, work: Any, form: Any, action: str) -> Response:
    return await attempt_and_redirect(
        console, work, form, success_url=PAGE, success=AGREEMENT_DONE[action]
    )


@router.get("/acceptance_agreements")
async def agreements_page(console: Annotated[Console, Allowed(Action.AGREEMENT_READ)]) -> Response:
    return await _agreements_page(console)


@router.post("/acceptance_agreements")
async def propose(
    console: Annotated[Console, Allowed(Action.AGREEMENT_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in
    if principal.merchant_id is None:
        raise PermissionDenied(console.gettext("Acceptance agreements are made between merchants."))

    async def work() -> object:
        return await service.propose_agreement(
            console.session,
            str(principal.merchant_id),
            form_text(form, "acceptor_merchant_id"),
            note=form_text(form, "note") or None,
            actor=principal.actor,
            now=console.now,
        )

    return await _act(console, work, form, "propose")


@router.post("/acceptance_agreements/{agreement_id}/{action}")
async def decide(
    agreement_id: str,
    action: str,
    console: Annotated[Console, Allowed(Action.AGREEMENT_MANAGE)],
    form: FormDep,
) -> Response:
    principal = console.signed_in
    if principal.merchant_id is None:
        raise PermissionDenied(console.gettext("Acceptance agreements are made between merchants."))
    if action not in ("approve", "reject", "revoke"):
        raise NotFound(N_("No such action."))
    merchant_id = str(principal.merchant_id)
    await service.get_agreement(console.session, agreement_id, merchant_id=merchant_id)  # 404

    async def work() -> object:
        # ending or refusing an agreement is destructive: it needs a reason (its note)
        destructive = action in ("reject", "revoke")
        note = required_reason(form, "note") if destructive else form_text(form, "note") or None
        if action == "revoke":
            return await service.revoke_agreement(
                console.session,
                agreement_id,
                merchant_id=merchant_id,
                actor=principal.actor,
                now=console.now,
                note=note,
            )
        return await service.decide_agreement(
            console.session,
            agreement_id,
            is_approved=action == "approve",
            merchant_id=merchant_id,
            note=note,
            actor=principal.actor,
            now=console.now,
        )

    return await _act(console, work, form, action)


# --- the holder confirms a binding ---------------------------------------------------------


@consumer_home_section("holder_bindings")
async def pending_bindings(console: Console) -> HomeSection | None:
    """Cards merchants asked to bind to the holder's phone, and the code form; nothing
    when no request waits (the form stays reachable after a failed attempt)."""
    if console.consumer is None:
        return None
    statement = (
        service.pending_bindings_query(console.consumer.phone, console.now)
        .join(Card, Card.id == CardHolderBinding.card_id)
        .join(Merchant, Merchant.id == Card.merchant_id)
        .with_only_columns(CardHolderBinding.expires_at, Card.last4, Merchant.legal_name)
    )
    rows = (await console.session.execute(statement)).all()
    if not rows:  # a failed attempt's message shows at the top of the page (the flash)
        return None
    return HomeSection(N_("Cards waiting for you"), "_consumer_bindings.html", {"requests": rows})


@router.post("/me/holder_bindings/confirm")
async def confirm_binding(
    console: Annotated[Console, Allowed(Action.BINDING_CONFIRM)], form: FormDep
) -> Response:
    principal = console.signed_in
    if principal.kind is not PrincipalKind.CONSUMER or principal.consumer_id is None:
        raise PermissionDenied("This page is for card holders; they sign in with their phone.")
    result = await service.confirm_binding(
        console.session,
        console.keys,
        principal.consumer_id,
        form_text(form, "code"),
        now=console.now,
    )
    if not result.succeeded:
        # returned, not raised: the wrong attempt is committed with this response
        message = BINDING_FAILURES.get(result.failure or "", BINDING_FAILURES[binding.CODE_INVALID])
        return console.redirect_with_error("/console/me", message, form)
    return console.redirect_after("/console/me", success=N_("The card is now bound to you."))
