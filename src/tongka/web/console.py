"""The console's frame: who is signed in, CSRF, rendering with the layout, error pages.

A page module declares ``router = console_router()`` and its routes take ``ConsoleDep``
(anyone), ``SignedInDep`` (redirects to the login page when nobody is signed in) and, for
every form POST, ``FormDep`` (the form, after the CSRF token was checked server-side).

CSRF: signed-in pages use a synchronizer token derived from the server-side session
(``identity.csrf_token_for``); public forms (login, registration) use a random token kept in
a cookie and echoed by the form (double submit). Forms send it as the ``csrf_token`` field;
HTMX requests send it in ``X-CSRF-Token`` from the ``<meta name="csrf-token">`` tag.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.routing import Match

from tongka.config import Settings
from tongka.currencies import enabled_currencies
from tongka.edge.auth import SESSION_COOKIE, IdentityKeysDep
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.errors import DomainError, InvalidRequest, PermissionDenied
from tongka.identity import service as identity
from tongka.identity.crypto import IdentityKeys
from tongka.identity.models import ConsoleSession, Consumer, User
from tongka.identity.principal import Principal
from tongka.identity.sms import mask_phone
from tongka.policy import Action, allowed
from tongka.web import formatting, forms, i18n
from tongka.web.i18n import LANGUAGE_COOKIE, LANGUAGES, N_, language_of
from tongka.web.labels import label_of
from tongka.web.nav import nav_for

log = structlog.get_logger(__name__)
T = TypeVar("T")

WEB_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.filters["money"] = formatting.format_money
templates.env.globals["enabled_currencies"] = enabled_currencies
templates.env.filters["masked_card"] = formatting.mask_card_number
templates.env.filters["masked_phone"] = mask_phone
i18n.install(templates.env)
templates.env.globals["label"] = label_of

ANONYMOUS_CSRF_COOKIE = "tongka_csrf"
CONSUMER_LOGIN = "/console/consumer/login"
# Card holders' pages live under here; nobody signed in goes to the consumer login there.
CONSUMER_AREA = "/console/me"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def is_consumer_page(path: str) -> bool:
    return path == CONSUMER_AREA or path.startswith(CONSUMER_AREA + "/")


class LoginRequired(Exception):
    """Nobody is signed in (or the session expired): go to the login page."""


@dataclass
class Console:
    """Everything a console page needs about the request and its caller."""

    request: Request
    session: AsyncSession
    keys: IdentityKeys
    settings: Settings
    now: datetime
    language: str
    user: User | None = None
    consumer: Consumer | None = None
    principal: Principal | None = None
    console_session: ConsoleSession | None = None
    anonymous_csrf: str | None = None
    new_anonymous_csrf: bool = False
    cookies: dict[str, str] = field(default_factory=dict)
    flash_consumed: bool = False  # the flash cookie was read: the response deletes it
    pending_flash: forms.Flash | None = None  # set by ``forms``: this response carries it

    @property
    def csrf_token(self) -> str:
        if self.console_session is not None:
            return identity.csrf_token_for(self.keys, self.console_session.id)
        if self.anonymous_csrf is None:
            self.anonymous_csrf = secrets.token_urlsafe(32)
            self.new_anonymous_csrf = True
        return self.anonymous_csrf

    @property
    def timezone(self) -> str:
        """The platform's time zone: times and business dates on every page."""
        return self.settings.timezone

    @property
    def signed_in(self) -> Principal:
        if self.principal is None:
            raise LoginRequired()
        return self.principal

    def can(self, action: Action | str) -> bool:
        """The policy for the signed-in caller (templates: ``can('card.freeze')``)."""
        return self.principal is not None and allowed(self.principal, Action(action))

    def gettext(self, message: str, **params: Any) -> str:
        """``message`` (an English text marked with ``N_`` or a literal) in the page's language."""
        return i18n.gettext(self.language, message, **params)

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response:
        context = {
            "console": self,
            "user": self.user,
            "consumer": self.consumer,
            "principal": self.principal,
            "nav": nav_for(self.principal) if self.principal else [],
            "csrf_token": self.csrf_token,
            "language": self.language,
            "languages": LANGUAGES,
            "current_path": self.request.url.path,
            "localtime": lambda moment: formatting.format_time(moment, self.settings.timezone),
            "can": self.can,
            # a full page shows the flash; a partial (``_rows.html`` polled by HTMX) leaves it
            **(forms.flash_context(self) if not template.startswith("_") else forms.NO_FLASH),
            **context,
        }
        response = templates.TemplateResponse(
            self.request, template, context, status_code=status_code
        )
        return self.finish(response)

    def redirect(self, url: str) -> Response:
        """After a POST: 303 to ``url`` (HTMX follows it and swaps the new page in)."""
        return self.finish(RedirectResponse(url, status_code=303))

    def redirect_after(self, url: str, *, success: str | None = None, **params: Any) -> Response:
        """303 to ``url`` with a one-time success message (``forms.redirect_after``)."""
        return forms.redirect_after(self, url, success=success, **params)

    def redirect_with_error(
        self,
        url: str,
        error: str | DomainError,
        form: FormData | None = None,
        *,
        field: str | None = None,
        **params: Any,
    ) -> Response:
        """303 back to the form's page with the error and what was typed (``forms``)."""
        return forms.redirect_with_error(self, url, error, form, field=field, **params)

    def finish(self, response: Response) -> Response:
        secure = self.request.url.scheme == "https"
        if self.new_anonymous_csrf and self.anonymous_csrf:
            response.set_cookie(
                ANONYMOUS_CSRF_COOKIE,
                self.anonymous_csrf,
                httponly=True,
                samesite="lax",
                secure=secure,
                path="/console",
            )
        if "lang" in self.request.query_params and self.language in LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE, self.language, samesite="lax", secure=secure, max_age=31536000
            )
        if self.pending_flash is not None:
            forms.set_flash(self, response, self.pending_flash)
        elif self.flash_consumed:
            response.delete_cookie(forms.FLASH_COOKIE, path=forms.FLASH_PATH)
        for name, value in self.cookies.items():
            if value:
                response.set_cookie(
                    name, value, httponly=True, samesite="lax", secure=secure, path="/"
                )
            else:
                response.delete_cookie(name, path="/")
        return response

    async def attempt(self, work: Callable[[], Awaitable[T]]) -> tuple[T | None, str | None]:
        """Run a service call in a savepoint: on a domain error nothing it wrote stays, and
        the error's message comes back for the form to show (``forms.error_text``)."""
        result, exc = await self.attempt_error(work)
        return result, (forms.error_text(self, exc) if exc is not None else None)

    async def attempt_error(
        self, work: Callable[[], Awaitable[T]]
    ) -> tuple[T | None, DomainError | None]:
        """``attempt``, answering the domain error itself (its ``param`` names its field)."""
        try:
            async with self.session.begin_nested():
                return await work(), None
        except DomainError as exc:
            return None, exc


async def get_console(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    keys: IdentityKeysDep,
    settings: SettingsDep,
) -> Console:
    console = Console(
        request=request,
        session=session,
        keys=keys,
        settings=settings,
        now=clock.now(),
        language=language_of(request),
        anonymous_csrf=request.cookies.get(ANONYMOUS_CSRF_COOKIE),
    )
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        signed_in = await identity.resolve_session(session, keys, token, now=console.now)
        if signed_in is not None:
            console.console_session = signed_in.console_session
            console.user, console.consumer = signed_in.user, signed_in.consumer
            console.principal = signed_in.principal
    return console


ConsoleDep = Annotated[Console, Depends(get_console)]


async def get_signed_in(console: ConsoleDep) -> Console:
    console.signed_in  # noqa: B018 - raises LoginRequired when nobody is signed in
    return console


SignedInDep = Annotated[Console, Depends(get_signed_in)]


async def get_checked_form(console: ConsoleDep) -> FormData:
    """The POSTed form, once its CSRF token matched (server-side); 403 otherwise."""
    form = await console.request.form()
    # the form's own field first: after a boosted login the page's header token may be stale
    sent = str(form.get(CSRF_FIELD) or "") or console.request.headers.get(CSRF_HEADER, "")
    if console.console_session is not None:
        valid = identity.csrf_token_matches(console.keys, console.console_session.id, sent)
    else:
        valid = bool(console.anonymous_csrf) and secrets.compare_digest(
            console.anonymous_csrf or "", sent
        )
    if not valid:
        log.warning("console.csrf_refused", path=console.request.url.path)
        raise PermissionDenied("The form expired or did not come from this site; reload it.")
    return form


FormDep = Annotated[FormData, Depends(get_checked_form)]


class ConsoleRoute(UnitOfWorkRoute):
    """Console routes answer in HTML: a login redirect or an error page, never JSON.

    Inside the request's transaction (a ``UnitOfWorkRoute``: re-run on a retryable failure).
    """

    def get_unit_of_work_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_unit_of_work_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                login = CONSUMER_LOGIN if is_consumer_page(request.url.path) else "/console/login"
                target = f"{login}?next={quote(request.url.path)}"
                if request.headers.get("HX-Request"):
                    return Response(status_code=200, headers={"HX-Redirect": target})
                return RedirectResponse(target, status_code=303)
            except DomainError as exc:
                status = {"not_found": 404, "permission_denied": 403}.get(exc.kind, 400)
                settings = getattr(request.app.state, "settings", None)
                zone = settings.timezone if settings else formatting.DEFAULT_TIMEZONE
                text = forms.error_text(forms.Speaker(language_of(request), zone), exc)
                return error_page(request, text, status)

        return console_handler


def error_page(request: Request, message: str, status_code: int) -> Response:
    """``error.html`` outside any page's context (no session read): an HTML answer."""
    language = language_of(request)
    context = {
        "message": message,
        "language": language,
        "languages": LANGUAGES,
        "nav": [],
        "current_path": request.url.path,
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status_code)


NOT_FOUND = N_("This page does not exist.")
NOT_ALLOWED = N_("This address only takes a form; go back to the page and use the form.")


def page_behind(app: Any, path: str) -> str | None:
    """The nearest page (a GET route) above ``path`` (``/console/cards/c1/freeze`` ->
    ``/console/cards/c1``): where a reload of an action's address goes."""
    parts = path.rstrip("/").split("/")
    while len(parts) > 2:
        parts.pop()
        candidate = "/".join(parts)
        scope = {"type": "http", "path": candidate, "method": "GET"}
        for route in app.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return candidate
    return None


async def console_http_error(request: Request, exc: Exception, fallback: Any) -> Response:
    """404 and 405 under ``/console`` answer in HTML (the API's handler answers JSON):
    a GET on an action's address (a reload after the action) goes to the page behind it."""
    status = getattr(exc, "status_code", 500)
    if not request.url.path.startswith("/console") or status not in (404, 405):
        return await fallback(request, exc)
    if status == 405 and request.method in ("GET", "HEAD"):
        target = page_behind(request.app, request.url.path)
        if target is not None:
            return RedirectResponse(target, status_code=303)
    message = i18n.gettext(language_of(request), NOT_FOUND if status == 404 else NOT_ALLOWED)
    return error_page(request, message, status)


def console_router() -> APIRouter:
    """A router for console pages (not in the OpenAPI document)."""
    return APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)


def form_text(form: FormData, name: str) -> str:
    """A form field, stripped, without NUL characters (PostgreSQL cannot store them)."""
    value = form.get(name)
    return value.replace("\x00", "").strip() if isinstance(value, str) else ""


def optional_text(form: FormData, name: str) -> str | None:
    return form_text(form, name) or None


def optional_whole_number(
    form: FormData, name: str, *, low: int | None = 0, high: int | None = None
) -> int | None:
    """A whole-number field: ``None`` when empty; anything else that is not a whole number
    from ``low`` to ``high`` (``None``: unbounded, so ``low=None`` admits a minus sign) is
    refused with ``not_a_whole_number`` on that field, before anything changes."""
    text = form_text(form, name)
    if not text:
        return None
    digits = text[1:] if low is None and text.startswith("-") else text
    number = int(text) if digits.isdigit() else None
    if number is None or (low is not None and number < low) or (high is not None and number > high):
        raise InvalidRequest(N_("Type a whole number."), code="not_a_whole_number", param=name)
    return number


def whole_number(
    form: FormData, name: str, *, default: int = 0, low: int | None = 0, high: int | None = None
) -> int:
    """``optional_whole_number``, with ``default`` for an empty field."""
    number = optional_whole_number(form, name, low=low, high=high)
    return default if number is None else number
