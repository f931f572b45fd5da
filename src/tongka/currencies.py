"""Which currencies the platform accepts: ``TONGKA_CURRENCIES`` (default ``CNY``).

``tongka.money.CURRENCIES`` lists what Tongka *can* handle (ISO 4217 codes whose exponent it
knows); this module says which of those a deployment *accepts*. A product in a currency
nobody settles, funds or displays (``ZZZ``, ``XAU``, or even ``USD`` on a CNY-only platform)
would be created, approved and issued, and only fail at activation — so every place a
currency enters refuses it up front:

- API bodies and queries: the ``EnabledCurrency`` type (422 naming the field);
- console forms and CLI options: ``require_enabled`` (400 / exit 1, naming the field);
- services, as the last line: ``require_enabled`` / ``currency_problem``.

The setting is read once per process by ``configure`` (``create_app`` and the CLI call it);
an unknown code in the setting is a configuration error at start-up, not a refusal later.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from tongka.config import ConfigurationError, Settings
from tongka.money import CURRENCIES, DEFAULT_CURRENCY, UnknownCurrency

_enabled: tuple[str, ...] = (DEFAULT_CURRENCY,)


class CurrencyNotEnabled(UnknownCurrency):
    """A real ISO code the platform does not accept (``TONGKA_CURRENCIES``)."""

    code = "currency_not_enabled"


def parse_setting(text: str) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [code for code in codes if code not in CURRENCIES]
    if not codes or unknown:
        raise ConfigurationError(
            f"TONGKA_CURRENCIES must list known ISO 4217 codes ({', '.join(sorted(CURRENCIES))});"
            f" got {text!r}."
        )
    return codes


def configure(settings: Settings) -> None:
    """Accept exactly the currencies of ``settings`` from now on (in this process)."""
    global _enabled
    _enabled = parse_setting(settings.currencies)


def enabled_currencies() -> tuple[str, ...]:
    """The accepted codes; the first is the default for forms that do not ask."""
    return _enabled


def currency_problem(code: object) -> str | None:
    """Why ``code`` is not accepted, or None."""
    if not isinstance(code, str) or code not in CURRENCIES:
        return f"{code!r} is not a known ISO 4217 currency."
    if code not in _enabled:
        return f"{code} is not accepted on this platform (accepted: {', '.join(_enabled)})."
    return None


def require_enabled(code: object, *, param: str = "currency") -> str:
    problem = currency_problem(code)
    if problem is not None:
        error = UnknownCurrency if code not in CURRENCIES else CurrencyNotEnabled
        accepted = list(_enabled)
        raise error(
            f"{param}: {problem}",
            param=param,
            details={"currency": str(code), "accepted": accepted},
        )
    assert isinstance(code, str)
    return code


def _validate(code: str) -> str:
    problem = currency_problem(code)
    if problem is not None:
        raise ValueError(problem)
    return code


EnabledCurrency = Annotated[
    str,
    Field(min_length=3, max_length=3, description="An ISO 4217 code the platform accepts."),
    AfterValidator(_validate),
]
"""A currency in a request model: refused with 422 unless in ``TONGKA_CURRENCIES``."""
