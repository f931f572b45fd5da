"""Keep the console's gettext catalogs complete: extract, update, check.

``make catalogs`` (``python -m tongka.web.catalogs update``) extracts every text inside a
translation call (``_()``, ``N_()``, ``gettext``, ``ngettext``, ``{% trans %}``) from the
code and templates named in ``babel.cfg``, adds the new ones to each language's ``.po``
(English gets its own text; Chinese is left empty for a translator, so ``check`` fails
until it is written) and drops the ones no longer used. ``check`` is what the test runs.

The ``.po`` files are written sorted and without line numbers, so two branches that add
texts rarely touch the same lines.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from tongka.web.i18n import CATALOG_LOCALES, LANGUAGES, catalog_path

REPOSITORY = Path(__file__).resolve().parents[3]
MAPPING = REPOSITORY / "babel.cfg"
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = "# The Tongka console's texts. Edit msgstr here; `make catalogs` adds and drops entries."
SOURCE_LANGUAGE = "en"  # texts are written in English inside the translation calls


def extract() -> Catalog:
    """Every translatable text of the code and templates (the catalogs' template)."""
    with MAPPING.open(encoding="utf-8") as mapping_file:
        method_map, options_map = parse_mapping_cfg(mapping_file)
    template = Catalog(project="tongka", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        REPOSITORY, method_map, options_map, strip_comment_tags=True
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def read_catalog(language: str) -> Catalog:
    path = catalog_path(language)
    if not path.exists():
        return Catalog(locale=CATALOG_LOCALES[language], project="tongka", fuzzy=False)
    with path.open("rb") as po_file:
        return read_po(po_file, locale=CATALOG_LOCALES[language])


def write_catalog(language: str, catalog: Catalog) -> None:
    path = catalog_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.creation_date = catalog.revision_date = FIXED_DATE  # no header churn in diffs
    catalog.header_comment = HEADER
    with path.open("wb") as po_file:
        write_po(
            po_file, catalog, width=0, sort_output=True, include_lineno=False, ignore_obsolete=True
        )


def update() -> None:
    """Bring every catalog in line with the texts in use."""
    template = extract()
    for language in LANGUAGES:
        catalog = read_catalog(language)
        catalog.update(template, no_fuzzy_matching=True)
        if language == SOURCE_LANGUAGE:
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        write_catalog(language, catalog)


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")


def format_shape(text: str) -> tuple[frozenset[str], int, int]:
    """What ``%`` formatting sees in ``text``: its named placeholders, its ``%%`` and its
    other ``%``."""
    names = frozenset(name for name in PLACEHOLDER.findall(text) if name)
    escaped = text.count("%%")
    bare = PLACEHOLDER.sub("", text).count("%")
    return names, escaped, bare


def _is_formatted(message_id: str, locations: list[tuple[str, int]]) -> bool:
    """Templates format every text (Jinja's new-style gettext); Python formats a text only
    when it is given parameters, which a message with placeholders or ``%%`` is."""
    if any(name.endswith(".html") for name, _ in locations):
        return True
    names, escaped, _ = format_shape(message_id)
    return bool(names or escaped)


def _shape_problem(message_id: str, string: str, *, formatted: bool, plural: bool) -> str | None:
    """A translation must keep its message's formatting: in a formatted text a bare ``%``
    where the message has ``%%`` breaks the page, and a dropped or misspelt placeholder
    breaks ``gettext(..., **params)``; a text shown as it is may say "20%" freely. A plural
    form may leave out a placeholder (“one card”), never add one."""
    wanted, got = format_shape(message_id), format_shape(string)
    names_ok = got[0] <= wanted[0] if plural else got[0] == wanted[0]
    if formatted and (not names_ok or got[1:] != wanted[1:]):
        return (
            f"its %-formatting differs: placeholders {sorted(got[0])} (message:"
            f" {sorted(wanted[0])}), %% {got[1]} ({wanted[1]}), bare % {got[2]} ({wanted[2]})"
        )
    if not formatted and got[0]:
        return f"it has placeholders {sorted(got[0])} that nothing fills"
    return None


def _strings(message_id: object, string: object) -> list[tuple[str, str]]:
    """(message, translation) pairs to compare; every plural form compares with the plural
    message, the one that names every placeholder."""
    if isinstance(string, tuple):
        ids = message_id if isinstance(message_id, tuple) else (message_id,)
        return [(str(ids[-1]), str(text)) for text in string]
    return [(str(message_id), str(string))]


def problems() -> list[str]:
    """What keeps the catalogs from being complete (empty when they are)."""
    template = extract()
    found: list[str] = []
    for language in LANGUAGES:
        catalog = read_catalog(language)
        for message in template:
            if not message.id:
                continue
            entry = catalog.get(message.id, message.context)
            where = ", ".join(f"{name}" for name, _ in message.locations[:2])
            if entry is None:
                found.append(f"{language}: no entry for {message.id!r} ({where})")
            elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
                found.append(f"{language}: {message.id!r} is not translated ({where})")
            elif entry.fuzzy:
                found.append(f"{language}: {message.id!r} is marked fuzzy ({where})")
            else:
                plural = isinstance(entry.string, tuple)
                formatted = plural or _is_formatted(str(message.id), message.locations)
                for message_id, string in _strings(message.id, entry.string):
                    problem = _shape_problem(message_id, string, formatted=formatted, plural=plural)
                    if problem:
                        found.append(f"{language}: {message.id!r}: {problem} ({where})")
    return found


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
    found = problems()
    for problem in found:
        print(problem)
    return 1 if found and command == "check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
