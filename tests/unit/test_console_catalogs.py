"""The console speaks Chinese first and English second, from complete gettext catalogs.

Two guards: every text inside a translation call has an entry, translated and not fuzzy,
in every catalog (``make catalogs`` adds new ones; a translator fills them); and no
template shows text outside a translation call, in its body or in the attributes people
read (placeholder, title, aria-label, alt).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tongka.web import catalogs
from tongka.web.console import WEB_DIR

# what a template may show outside a translation call: marks, digits and punctuation
ALLOWED_BARE = re.compile(r"^[\s\d·¥—–\-#:/|()（）,.，。×%*+…→←↑↓✓<>=&;?!]*$")
READ_ATTRIBUTES = re.compile(r"""\b(placeholder|title|aria-label|alt)\s*=\s*["']([^"'{]*)["']""")
ENTITY = re.compile(r"&[a-z]+;|&#\d+;")
# markup inside a text node (tags, comments, scripts and styles are not read by people)
MARKUP = re.compile(r"<script.*?</script>|<style.*?</style>|<!--.*?-->|<[^>]*>", re.S)
# texts that read the same in every language
UNTRANSLATED = {"https://", "API", "CSV", "HTTP", "JSON", "URL", "Webhook", "ID"}
TEMPLATES = sorted((WEB_DIR / "templates").rglob("*.html"))


def test_every_catalog_is_complete() -> None:
    assert catalogs.problems() == []


def test_the_catalogs_know_the_texts_of_the_templates() -> None:
    extracted = {message.id for message in catalogs.extract() if message.id}
    assert "Cards" in extracted  # nav label (N_ in Python)
    assert "Log in" in extracted  # template text (_ in a template)


JINJA = re.compile(r"{#.*?#}|{{.*?}}|{%.*?%}", re.S)


def bare_texts_of(source: str) -> list[str]:
    """The texts of a template's ``source`` a visitor reads that no translation call wraps:
    what is left of the markup once every Jinja tag and expression is taken out."""
    html = JINJA.sub("\x00", source)
    found = [
        value.strip()
        for _attribute, value in READ_ATTRIBUTES.findall(html)
        if not ALLOWED_BARE.match(value.replace("\x00", "")) and value.strip() not in UNTRANSLATED
    ]
    text = ENTITY.sub(" ", MARKUP.sub(" ", html)).replace("\x00", " ")
    found += [
        line.strip()
        for line in text.splitlines()
        if not ALLOWED_BARE.match(line) and line.strip() not in UNTRANSLATED
    ]
    return found


def bare_texts(template: Path) -> list[str]:
    return bare_texts_of(template.read_text(encoding="utf-8"))


@pytest.mark.parametrize("template", TEMPLATES, ids=[path.name for path in TEMPLATES])
def test_templates_hold_no_text_outside_a_translation_call(template: Path) -> None:
    assert bare_texts(template) == []


def test_the_text_guard_finds_bare_text() -> None:
    assert (
        bare_texts_of('<p>{{ _("Balance") }} ¥{{ x }}</p><input placeholder="{{ _("Why") }}">')
        == []
    )
    assert bare_texts_of("<p>余额 {{ x }}</p>") == ["余额"]
    assert bare_texts_of('<input placeholder="reason">') == ["reason"]
    assert bare_texts_of("<th>Status</th>{# a comment #}") == ["Status"]


@pytest.mark.parametrize(
    ("message", "translation", "formatted", "plural", "wrong"),
    [
        ("Fee %(rate)s%%", "费率 %(rate)s%%", True, False, False),
        ("Fee %(rate)s%%", "费率 %(rate)s%", True, False, True),  # bare % breaks the page
        ("Card %(number)s", "卡 %(numbr)s", True, False, True),  # misspelt placeholder
        ("Scale issuer, 20 percent", "规模 20%", False, False, False),  # shown as it is
        ("Scale issuer, 20 percent", "规模 20%", True, False, True),  # a template formats it
        ("Scale issuer", "规模 %(x)s", False, False, True),  # nothing fills it
        ("%(num)d cards", "%(num)d 张卡", True, True, False),
        ("%(num)d cards", "一张卡", True, True, False),  # a plural form may leave it out
        ("%(num)d cards", "%(num)d 张卡 %(x)s", True, True, True),
    ],
)
def test_a_translation_keeps_its_messages_formatting(
    message: str, translation: str, formatted: bool, plural: bool, wrong: bool
) -> None:
    problem = catalogs._shape_problem(message, translation, formatted=formatted, plural=plural)
    assert (problem is not None) is wrong
