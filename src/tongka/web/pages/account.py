"""A user's own password, and an admin's hold over other users: a temporary password
(shown once), disabling and enabling. The login page's two extra turns live here too: a
temporary password is replaced before any session opens, and a rejected applicant is sent
to its application with a pass (``pages.application``).

Why a temporary password rather than an e-mailed reset link: the platform sends no e-mail,
and an admin handing a colleague a one-time password in person (or by phone) is how these
teams work; see ``docs/decisions/0009-rejected-applicants-and-password-resets.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from starlette.datastructures import FormData

from tongka.edge.auth import SESSION_COOKIE
from tongka.edge.no_store import shows_secret
from tongka.errors import InvalidRequest, PermissionDenied
from tongka.identity import service as identity
from tongka.identity.errors import ObjectNotFound
from tongka.identity.models import User
from tongka.identity.sessions import LoginResult
from tongka.policy import Action, scope_of
from tongka.web.console import Console, ConsoleDep, FormDep, console_router, form_text
from tongka.web.forms import (
    Flash,
    attempt_and_redirect,
    redirect_with_error,
    required_reason,
)
from tongka.web.i18n import N_
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
register_nav_item(
    NavItem("password", N_("Change password"), "/console/password", Action.PASSWORD_CHANGE)
)

APPLICATION_COOKIE = "tongka_application"
NEW_PASSWORD_PAGE = "/console/login/new_password"
PASSWORDS_DIFFER = N_("The two new passwords differ.")


def _password(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.replace("\x00", "") if isinstance(value, str) else ""


def _new_password(form: FormData) -> str:
    """The new password, typed twice alike (else refused at the second field)."""
    new = _password(form, "new_password")
    if new != _password(form, "new_password_again"):
        raise InvalidRequest(PASSWORDS_DIFFER, code="passwords_differ", param="new_password_again")
    return new


# --- one's own password ------------------------------------------------------------------


@router.get("/password")
async def password_page(console: Annotated[Console, Allowed(Action.PASSWORD_CHANGE)]) -> Response:
    return console.render("password.html")


@router.post("/password")
async def change_password(
    console: Annotated[Console, Allowed(Action.PASSWORD_CHANGE)], form: FormDep
) -> Response:
    """The signed-in user's new password; their other sessions end, this one stays."""
    user = console.user
    if user is None or console.console_session is None:
        raise PermissionDenied("Only console users have a password.")
    session_id = console.console_session.id

    async def work() -> object:
        return await identity.change_password(
            console.session,
            user.id,
            current_password=_password(form, "current_password"),
            new_password=_new_password(form),
            now=console.now,
            keep_session_id=session_id,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url="/console/password",
        success=N_("Password changed. Your other sessions were signed out."),
    )


# --- other users -------------------------------------------------------------------------


async def _managed_user(console: Console, user_id: str) -> User:
    """A user the caller's scope reaches (a merchant admin: its own staff); else 404."""
    user = await identity.get_user(console.session, user_id)
    merchant_id = scope_of(console.signed_in).merchant()
    if merchant_id is not None and user.merchant_id != merchant_id:
        raise ObjectNotFound("No such user.")
    return user


async def _user_page(
    console: Console, user: User, status_code: int = 200, **context: object
) -> Response:
    return console.render(
        "user.html",
        status_code=status_code,
        listed=user,
        is_self=console.signed_in.actor == f"user:{user.id}",
        sessions=await identity.live_session_count(console.session, user.id, console.now),
        **context,
    )


@router.get("/users/{user_id}")
async def user_page(
    user_id: str, console: Annotated[Console, Allowed(Action.USER_MANAGE)]
) -> Response:
    return await _user_page(console, await _managed_user(console, user_id))


@router.post("/users/{user_id}/reset_password")
@shows_secret
async def reset_password(
    user_id: str, console: Annotated[Console, Allowed(Action.USER_RESET_PASSWORD)], form: FormDep
) -> Response:
    """A temporary password, on this response only (no-store); the user must replace it
    at the next login. An error goes back to the user's page (303)."""
    user = await _managed_user(console, user_id)

    async def work() -> identity.PasswordReset:
        return await identity.reset_password(
            console.session,
            user.id,
            principal=console.signed_in,
            reason=required_reason(form),
            now=console.now,
        )

    reset, error = await console.attempt_error(work)
    if error is not None or reset is None:
        return redirect_with_error(
            console, f"/console/users/{user_id}", error or N_("Try again."), form
        )
    return await _user_page(console, reset.user, temporary_password=reset.temporary_password)


@router.post("/users/{user_id}/{change}")
async def enable_or_disable(
    user_id: str,
    change: str,
    console: Annotated[Console, Allowed(Action.USER_DISABLE)],
    form: FormDep,
) -> Response:
    """Disable (with a reason: the user's sessions end at once) or enable again."""
    if change not in ("disable", "enable"):
        raise ObjectNotFound("No such user.")
    user = await _managed_user(console, user_id)
    is_enabled = change == "enable"

    async def work() -> object:
        return await identity.set_user_enabled(
            console.session,
            user.id,
            is_enabled=is_enabled,
            principal=console.signed_in,
            reason=form_text(form, "reason") if is_enabled else required_reason(form),
            now=console.now,
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=f"/console/users/{user_id}",
        success=N_("User enabled.") if is_enabled else N_("User disabled and signed out."),
    )


# --- the login page's extra turns --------------------------------------------------------


def after_refused_login(console: Console, result: LoginResult, email: str) -> Response | None:
    """The answer to a login that opened no session for a reason the person can act on:
    choose a new password (a reset one), or see one's rejected application. None: show
    the usual refusal."""
    if result.user is None:
        return None
    if result.failure == "password_change_required":
        console.pending_flash = Flash(values={"email": email})  # the email, typed once
        return console.redirect(NEW_PASSWORD_PAGE)
    if result.failure == "merchant_rejected":
        console.cookies[APPLICATION_COOKIE] = identity.issue_application_pass(
            console.keys, result.user, now=console.now
        )
        return console.redirect("/console/application")
    return None


@router.get("/login/new_password")
async def new_password_page(console: ConsoleDep) -> Response:
    """After a login with a temporary password: type it again with a new one."""
    if console.principal is not None:
        return console.redirect("/console/")
    return console.render("login_new_password.html")


@router.post("/login/new_password")
async def login_with_new_password(console: ConsoleDep, form: FormDep) -> Response:
    """Log in with a temporary password and replace it in the same step; a refusal goes
    back to the form (303) with the email kept and the message once."""
    from tongka.web.pages.home import LOGIN_FAILURES, landing_page  # home imports this module

    async def work() -> LoginResult:
        return await identity.login(
            console.session,
            console.keys,
            email=form_text(form, "email"),
            password=_password(form, "password"),
            new_password=_new_password(form),
            now=console.now,
        )

    result, error = await console.attempt_error(work)
    if result is not None and result.succeeded and result.session_token and result.user:
        console.cookies[SESSION_COOKIE] = result.session_token
        # no flash: it is sealed to the session it was made in, and this one is new
        return console.redirect(landing_page(identity.principal_for_user(result.user)))
    if error is not None:
        return redirect_with_error(console, NEW_PASSWORD_PAGE, error, form)
    failure = result.failure if result is not None else None
    message = LOGIN_FAILURES.get(failure or "", LOGIN_FAILURES["invalid_credentials"])
    return redirect_with_error(console, NEW_PASSWORD_PAGE, message, form)
