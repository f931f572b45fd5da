"""The console's languages, from Babel gettext catalogs: zh-CN by default, English second.

Texts are written in English inside translation calls and translated by the catalogs in
``locale/<locale>/LC_MESSAGES/messages.po`` (``make catalogs`` extracts and updates them;
see ``web/README.md``):

- templates: ``{{ _('Cards') }}``, with parameters ``{{ _('%(count)s cards', count=n) }}``
  (autoescaped), plurals ``{{ ngettext('%(num)s card', '%(num)s cards', n) }}``;
- Python: ``N_("Cards")`` marks a text that is translated later (nav labels, error
  messages, labels of codes), ``console.gettext("...")`` translates now.

A request's language comes from ``?lang=`` or the cookie; templates read it from their
context (``language``), so no global state is involved. The ``.po`` files are compiled in
memory when first used: there is no ``.mo`` to forget to rebuild.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

DEFAULT_LANGUAGE = "zh-CN"
LANGUAGES = {"zh-CN": "中文", "en": "English"}
LANGUAGE_COOKIE = "tongka_lang"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
# the console's language codes (BCP 47, as in <html lang>) -> the catalogs' locale folders
CATALOG_LOCALES = {"zh-CN": "zh_CN", "en": "en"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / CATALOG_LOCALES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> Translations:
    """The compiled catalog of ``language`` (read once per process)."""
    with catalog_path(language).open("rb") as po_file:
        catalog = read_po(po_file, locale=CATALOG_LOCALES[language])
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(language: str, message: str, **params: Any) -> str:
    """``message`` in ``language`` (itself when the catalog has no translation)."""
    text = translations(_known(language)).gettext(message)
    return text % params if params else text


def ngettext(language: str, singular: str, plural: str, count: int, **params: Any) -> str:
    text = translations(_known(language)).ngettext(singular, plural, count)
    return text % {"num": count, **params}


def _known(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


@pass_context
def _template_gettext(context: Context, message: str) -> str:
    return translations(_known(context.get("language", DEFAULT_LANGUAGE))).gettext(message)


@pass_context
def _template_ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    language = _known(context.get("language", DEFAULT_LANGUAGE))
    return translations(language).ngettext(singular, plural, count)


def install(env: Environment) -> None:
    """Give ``env`` the i18n extension, translating in the language of each render."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _template_gettext, _template_ngettext, newstyle=True
    )


def language_of(request: Request) -> str:
    requested = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE
