"""Login, logout, and the landing page (which sends each kind of user to their first page)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Response

from tongka.edge.auth import SESSION_COOKIE
from tongka.identity import service as identity
from tongka.identity.principal import Principal, PrincipalKind
from tongka.web.console import (
    CONSUMER_LOGIN,
    ConsoleDep,
    FormDep,
    SignedInDep,
    console_router,
    form_text,
)
from tongka.web.i18n import N_
from tongka.web.pages.account import after_refused_login

router = console_router()

LOGIN_FAILURES = {
    "invalid_credentials": N_("Wrong email or password."),
    "locked": N_("Too many failed attempts: the account is locked for 15 minutes."),
    "merchant_not_active": N_("The merchant is not approved yet, or is suspended."),
}


LANDING_PAGES = {
    PrincipalKind.PLATFORM: "/console/home",
    PrincipalKind.MERCHANT: "/console/home",
    PrincipalKind.CONSUMER: "/console/me",
}


def landing_page(principal: Principal) -> str:
    return LANDING_PAGES[principal.kind]


def safe_next(target: str | None) -> str | None:
    """Only local console paths, so the login form cannot redirect to another site."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return None


@router.get("", summary="Console home")
@router.get("/", summary="Console home")
async def home(console: SignedInDep) -> Response:
    return console.redirect(landing_page(console.signed_in))


@router.get("/login")
async def login_page(console: ConsoleDep) -> Response:
    """The staff login form (after a failed attempt: the email typed, the message once)."""
    if console.principal is not None:
        return console.redirect(landing_page(console.principal))
    return console.render("login.html", next=console.request.query_params.get("next", ""))


@router.post("/login")
async def login(console: ConsoleDep, form: FormDep) -> Response:
    email = form_text(form, "email")
    result = await identity.login(
        console.session,
        console.keys,
        email=email,
        password=str(form.get("password") or "").replace("\x00", ""),
        now=console.now,
    )
    if not result.succeeded or result.user is None or result.session_token is None:
        turn = after_refused_login(console, result, email)  # a reset password, an applicant
        if turn is not None:
            return turn
        # the failed-attempt counter is committed with this response (no exception)
        message = LOGIN_FAILURES.get(result.failure or "", N_("Wrong email or password."))
        next_page = safe_next(form_text(form, "next"))
        back = f"/console/login?next={quote(next_page)}" if next_page else "/console/login"
        return console.redirect_with_error(back, message, form)
    console.cookies[SESSION_COOKIE] = result.session_token
    target = safe_next(form_text(form, "next")) or landing_page(
        identity.principal_for_user(result.user)
    )
    return console.redirect(target)


@router.post("/logout")
async def logout(console: SignedInDep, form: FormDep) -> Response:
    token = console.request.cookies.get(SESSION_COOKIE, "")
    await identity.end_console_session(console.session, console.keys, token, now=console.now)
    console.cookies[SESSION_COOKIE] = ""
    was_consumer = console.signed_in.kind is PrincipalKind.CONSUMER
    return console.redirect(CONSUMER_LOGIN if was_consumer else "/console/login")
