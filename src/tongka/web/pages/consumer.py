"""Consumer pages: sign-in by phone + one-time code, the home page (我的卡), and the
operators' Sandbox SMS page (where sign-in codes land outside production)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Response

from tongka.edge.auth import SESSION_COOKIE
from tongka.errors import DomainError, NotFound, PermissionDenied
from tongka.identity import consumer_login
from tongka.identity.models import KycLevel, SandboxSmsMessage
from tongka.identity.principal import PrincipalKind
from tongka.identity.sms import sandbox_messages_query, sms_sender_for
from tongka.policy import Action
from tongka.web.console import (
    Console,
    ConsoleDep,
    FormDep,
    console_router,
    form_text,
)
from tongka.web.consumer_home import consumer_home_sections
from tongka.web.error_messages import error_text
from tongka.web.i18n import N_
from tongka.web.pages.home import landing_page, safe_next
from tongka.web.pages.listing import Allowed, render_list

router = console_router()

LOGIN_TEMPLATE = "consumer_login.html"
FAILURE_MESSAGES = {
    consumer_login.CODE_INVALID: N_(
        "The code is wrong or no longer valid; check it or get a new one."
    ),
    consumer_login.CODE_EXPIRED: N_("The code has expired; get a new one."),
    consumer_login.CODE_LOCKED: N_("Too many wrong attempts; get a new code."),
}


def _login_form(console: Console, status_code: int = 200, **context: Any) -> Response:
    """Step one (phone) or, with ``phone`` in the context, step two (code)."""
    context.setdefault("next", console.request.query_params.get("next", ""))
    is_sandbox = console.settings.environment != "production"
    return console.render(LOGIN_TEMPLATE, status_code=status_code, sandbox=is_sandbox, **context)


@router.get("/consumer/login")
async def login_page(console: ConsoleDep) -> Response:
    if console.principal is not None:
        return console.redirect(landing_page(console.principal))
    return _login_form(console)


@router.post("/consumer/login/code")
async def send_code(console: ConsoleDep, form: FormDep) -> Response:
    """Text a code (same page whether the phone is known or not), then ask for it."""
    phone = form_text(form, "phone")
    next_page = form_text(form, "next")
    try:
        sent = await consumer_login.request_login_code(
            console.session,
            console.keys,
            phone,
            now=console.now,
            sender=sms_sender_for(console.settings),
        )
    except DomainError as exc:  # nothing was written: the request rolls back
        status = 429 if exc.kind == "rate_limited" else 400
        error = error_text(console.language, exc, timezone=console.settings.timezone)
        return _login_form(console, status, error=error, entered_phone=phone, next=next_page)
    return _login_form(console, phone=sent.phone, sent=True, next=next_page)


@router.post("/consumer/login")
async def sign_in(console: ConsoleDep, form: FormDep) -> Response:
    phone = form_text(form, "phone")
    next_page = form_text(form, "next")
    result = await consumer_login.verify_login_code(
        console.session, console.keys, phone, form_text(form, "code"), now=console.now
    )
    if not result.succeeded or result.session_token is None:
        # returned, not raised: the wrong attempt is committed with this response
        message = console.gettext(
            FAILURE_MESSAGES.get(
                result.failure or "",
                N_("The code is wrong or no longer valid; check it or get a new one."),
            )
        )
        return _login_form(console, 401, error=message, phone=phone, next=next_page)
    console.cookies[SESSION_COOKIE] = result.session_token
    return console.redirect(safe_next(next_page) or "/console/me")


@router.get("/me")
async def consumer_home(console: Annotated[Console, Allowed(Action.CONSUMER_SELF)]) -> Response:
    """我的卡: the holder's profile and the sections other parts provide (cards...)."""
    if console.signed_in.kind is not PrincipalKind.CONSUMER or console.consumer is None:
        raise PermissionDenied("This page is for card holders; they sign in with their phone.")
    return console.render(
        "consumer_home.html",
        kyc_level_name=KycLevel(console.consumer.kyc_level).name.lower(),
        sections=await consumer_home_sections(console),
    )


@router.get("/sandbox_sms")
async def sandbox_sms(console: Annotated[Console, Allowed(Action.SANDBOX_SMS_READ)]) -> Response:
    """Messages the sandbox SMS sender delivered (newest first); not in production."""
    if console.settings.environment == "production":
        raise NotFound("There is no sandbox SMS in production.")
    return await render_list(
        console, "sandbox_sms.html", "messages", sandbox_messages_query(), SandboxSmsMessage
    )
