"""Post/Redirect/Get for the console: every form POST answers 303, and the page it lands on
shows what happened — once.

Why: a page rendered by a POST (the old "400 with the form again") breaks on reload (the
browser re-POSTs or shows the API's JSON 405) and shows its error twice. Instead:

- success: ``redirect_after(console, url, success=N_("Card frozen."))`` → 303 to ``url``
  with a success *flash*;
- error: ``redirect_with_error(console, url, exc_or_text, form, field=...)`` → 303 back to
  the form's page with the error, the field it belongs to (a ``DomainError``'s ``param``
  when the form has that field) and what was typed (never a secret: see ``is_secret``);
- ``attempt_and_redirect(...)`` wraps both around ``console.attempt`` (a savepoint).

The flash travels in one cookie (``tongka_flash``, path ``/console``, httponly, samesite
lax), sealed with AES-GCM under a key derived for this purpose and bound to the console
session (``tongka.crypto.seal``): nobody can forge or read it, and it is read once (the
first full page rendered afterwards) and then deleted. Its texts are **already
translated** (in the language of the POST, which is the language of the GET that follows);
pass ``N_`` msgids (with ``params``) or a ``DomainError`` and they are translated here.

On the GET side ``console.render`` puts in the context: ``flash`` (``Flash``: ``message``,
``kind`` "success"/"error", ``form`` the POSTed path), ``values`` (typed values to refill,
``{name: text}``) and ``field_errors`` (``{name: message}``). ``templates/_forms.html``'s
macros read them: ``field``, ``money_field``, ``select``, ``confirm_action``.

A domain error's text always comes from ``error_text(console, exc)``: the one place
domain errors become words for people (the ``errors`` work formats them per code).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog
from fastapi import Response
from starlette.datastructures import FormData

from tongka.crypto import DecryptionFailed, derive_key, open_sealed, seal
from tongka.errors import DomainError, InvalidRequest
from tongka.money import Money, MoneyError, currency_exponent
from tongka.web import error_messages, i18n
from tongka.web.formatting import DEFAULT_TIMEZONE
from tongka.web.i18n import N_

if TYPE_CHECKING:
    from tongka.web.console import Console

log = structlog.get_logger(__name__)

FLASH_COOKIE = "tongka_flash"
FLASH_PATH = "/console"
# field names never carried back into a form (typed again instead); a full card number is
# one of them: it never travels in a cookie, sealed or not
SECRET_FIELDS = frozenset(
    {
        "password",
        "secret",
        "export_password",
        "code",
        "csrf_token",
        "admin_password",
        "number",
        "card_number",
    }
)
MAX_VALUE_CHARS = 300  # per refilled value: a cookie holds about 4 KB in all
MAX_COOKIE_CHARS = 3800
MAX_PLAIN_BYTES = 2700
CHECK_FIELD = N_("Check the field marked below.")
AMOUNT_NOT_A_NUMBER = N_("Type an amount in yuan, e.g. 100 or 99.50.")
AMOUNT_TOO_PRECISE = N_("An amount in yuan has at most two decimals (fen), e.g. 99.50.")
AMOUNT_REQUIRED = N_("Type an amount.")
REASON_REQUIRED = N_("Give a reason: it is recorded with the action.")

FlashKind = Literal["success", "error"]


@dataclass(frozen=True)
class Flash:
    """What the page after a redirect shows once."""

    message: str | None = None
    kind: FlashKind = "success"
    form: str | None = None  # the path the form was POSTed to (macros open that form)
    values: dict[str, str] = field(default_factory=dict)
    field_errors: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "m": self.message,
                "k": self.kind,
                "f": self.form,
                "v": self.values,
                "e": self.field_errors,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Flash:
        data = json.loads(text)
        return cls(
            message=data.get("m"),
            kind="error" if data.get("k") == "error" else "success",
            form=data.get("f"),
            values={str(k): str(v) for k, v in (data.get("v") or {}).items()},
            field_errors={str(k): str(v) for k, v in (data.get("e") or {}).items()},
        )


def is_secret(name: str, secret_fields: frozenset[str] = frozenset()) -> bool:
    """A field whose value must never travel back to the browser (passwords, codes...)."""
    lowered = name.lower()
    return (
        lowered in SECRET_FIELDS
        or lowered in secret_fields
        or "password" in lowered
        or "secret" in lowered
    )


def typed_values(
    form: FormData | Mapping[str, Any] | None, secret: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The form's text values to refill (secrets left out, long values cut)."""
    values: dict[str, str] = {}
    if form is None:
        return values
    for name in form.keys():  # noqa: SIM118 - FormData has no plain iteration over items
        value = form.get(name)
        if isinstance(value, str) and not is_secret(name, secret):
            values[name] = value.replace("\x00", "")[:MAX_VALUE_CHARS]
    return values


# --- the cookie ------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _flash_key(root: bytes) -> bytes:
    return derive_key(root, "console-flash")


def _context(console: Console) -> str:
    """Bound to the console session: a flash cookie opens only in the session that made it."""
    session = console.console_session
    return f"flash:{session.id}" if session is not None else "flash:public"


def _fitting(flash: Flash) -> bytes:
    """The flash as at most ``MAX_PLAIN_BYTES``: what was typed goes first, then texts are
    cut (base64 and the envelope grow it by about a third; a cookie holds 4 KB)."""
    text = flash.to_json().encode()
    if len(text) <= MAX_PLAIN_BYTES:
        return text
    cut = {name: message[:200] for name, message in flash.field_errors.items()}
    smaller = Flash((flash.message or "")[:500] or None, flash.kind, flash.form, {}, cut)
    return smaller.to_json().encode()


def _encode(console: Console, flash: Flash) -> str:
    text = _fitting(flash)
    key = _flash_key(console.settings.secret_key_bytes())
    envelope = seal(key, text, context=_context(console))
    return base64.urlsafe_b64encode(envelope).decode().rstrip("=")  # no quoting needed


def read_flash(console: Console) -> Flash | None:
    """The flash the request carries (None when none, or it does not open); once read, the
    response deletes the cookie (``console.finish``)."""
    raw = console.request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    console.flash_consumed = True
    try:
        envelope = base64.urlsafe_b64decode(raw.strip('"').encode() + b"=" * (-len(raw) % 4))
        key = _flash_key(console.settings.secret_key_bytes())
        return Flash.from_json(open_sealed(key, envelope, context=_context(console)).decode())
    except (DecryptionFailed, ValueError, TypeError):
        log.info("console.flash_refused", path=console.request.url.path)
        return None


NO_FLASH: dict[str, Any] = {"flash": None, "values": {}, "field_errors": {}}


def flash_context(console: Console) -> dict[str, Any]:
    """``flash``, ``values`` and ``field_errors`` for ``console.render`` (empty when none)."""
    flash = read_flash(console)
    if flash is None:
        return {**NO_FLASH, "values": {}, "field_errors": {}}
    return {"flash": flash, "values": flash.values, "field_errors": flash.field_errors}


def set_flash(console: Console, response: Response, flash: Flash) -> None:
    response.set_cookie(
        FLASH_COOKIE,
        _encode(console, flash),
        path=FLASH_PATH,
        httponly=True,
        samesite="lax",
        secure=console.request.url.scheme == "https",
    )


# --- texts --------------------------------------------------------------------------------


class Speaks(Protocol):
    """What ``error_text`` needs: a ``Console``, or a ``Speaker`` where no console exists."""

    @property
    def language(self) -> str: ...

    @property
    def timezone(self) -> str: ...

    def gettext(self, message: str, **params: Any) -> str: ...


@dataclass(frozen=True)
class Speaker:
    """A language alone (the error page of a failed request has no ``Console``)."""

    language: str
    timezone: str = DEFAULT_TIMEZONE

    def gettext(self, message: str, **params: Any) -> str:
        return i18n.gettext(self.language, message, **params)


def error_text(console: Speaks, exc: DomainError) -> str:
    """The words a person reads for a domain error, in the page's language.

    The one function every console page uses for this: each code's wording with its
    parameters formatted for people (``error_messages``: yuan, local times, words)."""
    return error_messages.error_text(console.language, exc, timezone=console.timezone)


def _text(console: Console, message: str | DomainError | None, params: Mapping[str, Any]) -> str:
    if message is None:
        return ""
    if isinstance(message, DomainError):
        return error_text(console, message)
    return console.gettext(message, **params)


# --- the redirects ---------------------------------------------------------------------


def redirect_after(
    console: Console,
    url: str,
    *,
    success: str | None = None,
    values: Mapping[str, str] | None = None,
    **params: Any,
) -> Response:
    """303 to ``url``; ``success`` (an ``N_`` msgid with ``params``) shows there once, and
    ``values`` (never secrets) fill the next form (e.g. the phone a code was sent to)."""
    if success or values:
        console.pending_flash = Flash(
            _text(console, success, params) or None,
            "success",
            form=console.request.url.path,
            values=typed_values(values),
        )
    return console.redirect(url)


def redirect_with_error(
    console: Console,
    url: str,
    error: str | DomainError,
    form: FormData | None = None,
    *,
    field: str | None = None,
    secret: frozenset[str] = frozenset(),
    keep: Mapping[str, str] | None = None,
    **params: Any,
) -> Response:
    """303 back to the form's page ``url``: the error (next to ``field``, or the domain
    error's ``param`` when the form has that field), and what was typed (no secrets;
    ``keep`` adds values the page needs to show the same form again, e.g. its step)."""
    message = _text(console, error, params)
    if field is None and isinstance(error, DomainError) and form is not None:
        field = error.param if error.param in form else None
    flash = Flash(
        message=console.gettext(CHECK_FIELD) if field else message,
        kind="error",
        form=console.request.url.path,
        values={**typed_values(form, secret), **typed_values(keep)},
        field_errors={field: message} if field else {},
    )
    log.info("console.form_refused", path=console.request.url.path, field=field)
    console.pending_flash = flash
    return console.redirect(url)


async def attempt_and_redirect(
    console: Console,
    work: Callable[[], Awaitable[object]],
    form: FormData | None,
    *,
    success_url: str,
    success: str | None = None,
    error_url: str | None = None,
    **params: Any,
) -> Response:
    """Run ``work`` in a savepoint (``console.attempt``); success → ``success_url`` with
    ``success``; a domain error → ``error_url`` (default: ``success_url``) with the error."""
    _, exc = await console.attempt_error(work)
    if exc is not None:
        raise_page_errors(exc, form)
        return redirect_with_error(console, error_url or success_url, exc, form)
    return redirect_after(console, success_url, success=success, **params)


def raise_page_errors(exc: DomainError, form: FormData | None) -> None:
    """An object the address names is not there, or not the caller's: that is the page's
    error (404/403 in HTML, as a GET would answer), not the form's — unless the object
    was picked in the form (its ``param`` is a field), where it is a field error."""
    picked = form is not None and exc.param is not None and exc.param in form
    if exc.kind in ("not_found", "permission_denied") and not picked:
        raise exc


async def show_secret_once(
    console: Console,
    work: Callable[[], Awaitable[object]],
    form: FormData | None,
    *,
    page: Callable[..., Awaitable[Response]],
    url: str,
) -> Response:
    """The exception to PRG: a service call that makes a secret shown once (an API key, a
    webhook signing secret). Success renders ``page`` on this response (201, with the
    result as ``created``) and sends ``HX-Replace-Url: url`` so the address bar shows the
    page, not the POST (a reload of the POST address is a GET: the page behind it). A
    domain error is an ordinary PRG error back to ``url``."""
    created, exc = await console.attempt_error(work)
    if exc is not None:
        raise_page_errors(exc, form)
    if exc is not None or created is None:
        return redirect_with_error(console, url, exc or N_("Nothing was created."), form)
    response = await page(console, 201, created=created)
    response.headers["HX-Replace-Url"] = url
    return response


def log_reason(console: Console, action: str, object_id: str, reason: str) -> None:
    """A destructive action whose service keeps no reason: the reason goes to the log."""
    log.info(
        "console.action_reason",
        action=action,
        object_id=object_id,
        actor=console.signed_in.actor,
        reason=reason,
    )


# --- reading typed values ----------------------------------------------------------------


def money_minor(
    form: FormData | Mapping[str, Any], name: str, currency: str, *, required: bool = True
) -> int | None:
    """A money field typed in yuan (``100``, ``99.50``) as exact minor units.

    Refuses (``InvalidRequest`` with ``param=name``, so the message lands at the field) a
    non-number or more decimals than the currency has — never rounds."""
    value = form.get(name)
    text = value.replace("\x00", "").replace(",", "").strip() if isinstance(value, str) else ""
    for symbol in ("¥", "￥"):
        text = text.removeprefix(symbol).strip()
    if not text:
        if required:
            raise InvalidRequest(AMOUNT_REQUIRED, code="amount_required", param=name)
        return None
    try:
        return Money.parse(text, currency).minor_units
    except MoneyError as exc:
        if _places(text) > currency_exponent(currency):
            raise InvalidRequest(AMOUNT_TOO_PRECISE, code="amount_too_precise", param=name) from exc
        raise InvalidRequest(AMOUNT_NOT_A_NUMBER, code="amount_not_a_number", param=name) from exc


def percent_fraction(form: FormData, name: str) -> Decimal | None:
    """A percent as people type it (``0.6`` for 0.6 %) as a fraction (``0.006``); None when
    the field is empty. Whether the rate is allowed is the domain's to say."""
    text = str(form.get(name) or "").strip().removesuffix("%").strip()
    if not text:
        return None
    try:
        percent = Decimal(text)
    except InvalidOperation:
        raise InvalidRequest(
            "Type a decimal number, e.g. 0.9.", code="not_a_decimal", param=name
        ) from None
    if not percent.is_finite():
        raise InvalidRequest("Type a decimal number, e.g. 0.9.", code="not_a_decimal", param=name)
    return percent / 100


def _places(text: str) -> int:
    """The decimal places of a number as typed (0 when it is no number)."""
    try:
        exponent = Decimal(text).as_tuple().exponent
    except InvalidOperation:
        return 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def required_reason(form: FormData, name: str = "reason") -> str:
    """The reason a destructive action must give (refused at the field when blank)."""
    value = form.get(name)
    text = value.replace("\x00", "").strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidRequest(REASON_REQUIRED, code="reason_required", param=name)
    return text[:500]
