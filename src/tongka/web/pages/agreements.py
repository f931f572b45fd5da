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
from tongka.cards.models import Card, CardAcceptanceAgreement, CardHolderBinding
from tongka.errors import InvalidRequest, PermissionDenied
from tongka.identity.models import Merchant
from tongka.identity.principal import PrincipalKind
from tongka.policy import Action, scope_of
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.consumer_home import HomeSection, consumer_home_section
from tongka.web.i18n import add_messages
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed, render_list, submit

router = console_router()
PAGE = "/console/acceptance_agreements"
BINDING_FAILURES = {
    binding.CODE_INVALID: "binding.code_invalid",
    binding.CODE_EXPIRED: "binding.code_expired",
    binding.CODE_LOCKED: "binding.code_locked",
}

register_nav_item(
    NavItem(
        "acceptance_agreements",
        "nav.acceptance_agreements",
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
        **context,
    )


async def _act(console: Console, work: Any) -> Response:
    return await submit(console, work, success_url=PAGE, form_page=_agreements_page)


@router.get("/acceptance_agreements")
async def agreements_page(console: Annotated[Console, Allowed(Action.AGREEMENT_READ)]) -> Response:
    return await _agreements_page(console)


@router.post("/acceptance_agreements")
async def propose(
    console: Annotated[Console, Allowed(Action.AGREEMENT_MANAGE)], form: FormDep
) -> Response:
    principal = console.signed_in
    if principal.merchant_id is None:
        raise PermissionDenied(console.t("agreements.merchants_only"))

    async def work() -> object:
        return await service.propose_agreement(
            console.session,
            str(principal.merchant_id),
            form_text(form, "acceptor_merchant_id"),
            note=form_text(form, "note") or None,
            actor=principal.actor,
            now=console.now,
        )

    return await _act(console, work)


@router.post("/acceptance_agreements/{agreement_id}/{action}")
async def decide(
    agreement_id: str,
    action: str,
    console: Annotated[Console, Allowed(Action.AGREEMENT_MANAGE)],
    form: FormDep,
) -> Response:
    principal = console.signed_in
    if principal.merchant_id is None:
        raise PermissionDenied(console.t("agreements.merchants_only"))
    if action not in ("approve", "reject", "revoke"):
        raise InvalidRequest("Unknown action.")
    merchant_id, note = str(principal.merchant_id), form_text(form, "note") or None

    async def work() -> object:
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

    return await _act(console, work)


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
    error = console.request.query_params.get("binding_error")
    message = console.t(BINDING_FAILURES[error]) if error in BINDING_FAILURES else None
    if not rows and message is None:
        return None
    return HomeSection(
        "binding.title", "_consumer_bindings.html", {"requests": rows, "error": message}
    )


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
        return console.redirect(f"/console/me?binding_error={result.failure}")
    return console.redirect("/console/me")


add_messages(
    "zh-CN",
    {
        "nav.acceptance_agreements": "受理协议",
        "agreements.title": "受理协议",
        "agreements.note": "其他商户的门店受理本商户的卡，须先经对方同意：由发卡商户发起，"
        "受理商户批准或拒绝，任一方可随时终止。终止后，引用该协议的卡种不能再审核通过或制卡，"
        "对方门店也不再受理。",
        "agreements.propose": "发起受理协议",
        "agreements.acceptor": "受理商户编号",
        "agreements.issuer": "发卡商户",
        "agreements.acceptor_column": "受理商户",
        "agreements.incoming": "待我方确认",
        "agreements.approve": "同意",
        "agreements.reject": "拒绝",
        "agreements.revoke": "终止",
        "agreements.note_field": "备注",
        "agreements.merchants_only": "受理协议由商户之间签订。",
        "agreement.proposed": "待确认",
        "agreement.approved": "已生效",
        "agreement.rejected": "已拒绝",
        "agreement.revoked": "已终止",
        "binding.title": "待确认的绑卡",
        "binding.note": "以下商户请求将卡绑定到您的账户。请输入短信中的验证码确认；"
        "如非本人操作，请忽略。",
        "binding.card": "卡号尾号",
        "binding.merchant": "发卡商户",
        "binding.expires": "有效至",
        "binding.code": "短信验证码",
        "binding.confirm": "确认绑卡",
        "binding.code_invalid": "验证码错误或已失效，请核对或请商户重新发送。",
        "binding.code_expired": "验证码已过期，请请商户重新发送。",
        "binding.code_locked": "验证码错误次数过多，请请商户重新发送。",
    },
)
add_messages(
    "en",
    {
        "nav.acceptance_agreements": "Acceptance agreements",
        "agreements.title": "Acceptance agreements",
        "agreements.note": "Another merchant's stores accept your cards only with its consent: "
        "the issuer proposes, the acceptor approves or rejects, either party may end it. Once "
        "ended, products relying on it can no longer be approved or issued, and the other "
        "merchant's stores stop accepting them.",
        "agreements.propose": "Propose an agreement",
        "agreements.acceptor": "Accepting merchant id",
        "agreements.issuer": "Issuer",
        "agreements.acceptor_column": "Acceptor",
        "agreements.incoming": "Awaiting your decision",
        "agreements.approve": "Approve",
        "agreements.reject": "Reject",
        "agreements.revoke": "End",
        "agreements.note_field": "Note",
        "agreements.merchants_only": "Acceptance agreements are made between merchants.",
        "agreement.proposed": "Proposed",
        "agreement.approved": "In force",
        "agreement.rejected": "Rejected",
        "agreement.revoked": "Ended",
        "binding.title": "Cards waiting for you",
        "binding.note": "These merchants asked to bind a card to your account. Enter the code "
        "from the text message to accept; if you did not expect it, ignore it.",
        "binding.card": "Card ending",
        "binding.merchant": "Issuer",
        "binding.expires": "Valid until",
        "binding.code": "Code from the SMS",
        "binding.confirm": "Accept the card",
        "binding.code_invalid": "The code is wrong or no longer valid; check it or ask the "
        "merchant for a new one.",
        "binding.code_expired": "The code has expired; ask the merchant for a new one.",
        "binding.code_locked": "Too many wrong attempts; ask the merchant for a new code.",
    },
)
