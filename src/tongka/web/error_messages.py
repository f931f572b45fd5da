"""Domain errors in words for people, in the console's languages.

A ``DomainError`` carries a stable ``code``, the field it is about (``param``) and its
parameters as ``details``: amounts as integer minor units *with* their currency (a
``Money`` or ``{"amount": 55000, "currency": "CNY"}``), times as aware datetimes, rules and
statuses as codes. The API answers the code and the English message; the console shows
``error_text(language, exc)``: the registry's text for the code, translated by the
catalogs, with the parameters formatted for people — ``¥550.00``, times in the platform's
time zone, fields, statuses and regulation rules in words (``error_words``).

- ``MESSAGES[code]`` — one entry for every code a domain error can carry (a test scans the
  source for them). ``text`` uses the parameters; ``bare`` says the same without them and is
  shown when a parameter is missing, so a message always reads well.
- ``MESSAGES[f"{code}.{problem}"]`` — a more precise wording for one of several problems
  that share a code (``details["problem"]``; e.g. ``invalid_amount.too_many_decimals``).
- Errors that report several problems at once (``details["problems"]``: a card product's
  fields, the regulation's articles) show each problem's wording, joined.
- A generic code (``invalid_request``…) raised with a message the catalogs translate (a
  console page's own ``N_`` text) shows that translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tongka.errors import DomainError
from tongka.money import Money
from tongka.web import i18n
from tongka.web.error_registry import MESSAGES, Message
from tongka.web.error_words import PARAMETER_GROUPS, WORDS
from tongka.web.formatting import DEFAULT_TIMEZONE, format_money, format_time
from tongka.web.labels import LABELS

__all__ = ["MESSAGES", "Message", "error_text"]

GENERIC_CODES = frozenset(
    {
        "invalid_request",
        "not_found",
        "conflict",
        "permission_denied",
        "authentication_failed",
        "rate_limited",
        "business_rule_violation",
        "service_unavailable",
    }
)
LIST_SEPARATOR = {"zh-CN": "、", "en": ", "}
# each problem's wording is a sentence ending with its own full stop
PROBLEM_SEPARATOR = {"zh-CN": "", "en": " "}


@dataclass(frozen=True)
class _Formatting:
    language: str
    timezone: str
    groups: Mapping[str, str] = field(default_factory=dict)


def error_text(language: str, exc: DomainError, *, timezone: str = DEFAULT_TIMEZONE) -> str:
    """``exc`` for people in ``language``: the code's wording with its parameters formatted
    (yuan, the platform's local time, words for codes). Never raises."""
    if exc.code in GENERIC_CODES or _has_entry(exc.message):
        # the console's own errors are raised with a catalog text (N_) as their message
        translated = i18n.gettext(language, exc.message)
        if translated != exc.message or (language == "en" and _has_entry(exc.message)):
            return translated
    problems = exc.details.get("problems")
    if isinstance(problems, list) and problems:
        texts = [
            _problem_text(language, exc.code, problem, timezone)
            for problem in problems
            if isinstance(problem, Mapping)
        ]
        if texts:
            return PROBLEM_SEPARATOR.get(language, " ").join(texts)
    details = dict(exc.details)
    code = exc.code
    if exc.param is not None:
        details.setdefault("field", exc.param)
        if code == "invalid_request":  # at least name the field that is wrong
            code = "validation_failed"
    return _render(language, _entry(code, details.get("problem"), exc.kind), details, timezone)


def _has_entry(message: str) -> bool:
    return i18n.translations(i18n.DEFAULT_LANGUAGE).gettext(message) != message


def _problem_text(language: str, code: str, problem: Mapping[str, Any], timezone: str) -> str:
    details = dict(problem)
    if "param" in details:
        details.setdefault("field", details["param"])
    return _render(language, _entry(code, details.get("problem"), None), details, timezone)


def _entry(code: str, problem: object, kind: str | None) -> Message:
    if isinstance(problem, str) and f"{code}.{problem}" in MESSAGES:
        return MESSAGES[f"{code}.{problem}"]
    if code in MESSAGES:
        return MESSAGES[code]
    return MESSAGES.get(kind or "", MESSAGES["invalid_request"])


def _render(language: str, entry: Message, details: Mapping[str, Any], timezone: str) -> str:
    formatting = _Formatting(language, timezone, entry.groups)
    parameters = _people_parameters(details, formatting, amounts=entry.amounts)
    text = i18n.gettext(language, entry.text)
    try:
        return text % parameters
    except (KeyError, TypeError, ValueError):
        return i18n.gettext(language, entry.bare or entry.text)


def _people_parameters(
    details: Mapping[str, Any], formatting: _Formatting, *, amounts: tuple[str, ...] = ()
) -> dict[str, str]:
    """Each parameter as text for people; a parameter that has no words is left out."""
    parameters: dict[str, str] = {}
    currency = details.get("currency")
    for name, value in details.items():
        if name in amounts and isinstance(value, int) and isinstance(currency, str):
            value = {"amount": value, "currency": currency}
        text = _people_value(name, value, formatting)
        if text is not None:
            parameters[name] = text
    return parameters


def _people_value(name: str, value: Any, formatting: _Formatting) -> str | None:
    if value is None or value == "":
        return None
    group = formatting.groups.get(name) or PARAMETER_GROUPS.get(name)
    if isinstance(value, list | tuple):
        items = [_people_value(name, item, formatting) for item in value]
        if not items or any(item is None for item in items):
            return None
        return LIST_SEPARATOR.get(formatting.language, ", ").join(str(i) for i in items)
    money = _money_of(value)
    if money is not None:
        return format_money(money)
    if isinstance(value, datetime):
        return format_time(value, formatting.timezone)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"{value:,}"
    if group is not None:
        words = (WORDS.get(group) or LABELS.get(group, {})).get(str(getattr(value, "value", value)))
        return i18n.gettext(formatting.language, words) if words is not None else None
    if isinstance(value, str):
        return value
    return None


def _money_of(value: Any) -> Money | None:
    if isinstance(value, Money):
        return value
    if (
        isinstance(value, Mapping)
        and set(value) == {"amount", "currency"}
        and isinstance(value["amount"], int)
        and isinstance(value["currency"], str)
    ):
        try:
            return Money(value["amount"], value["currency"])
        except DomainError:
            return None
    return None
