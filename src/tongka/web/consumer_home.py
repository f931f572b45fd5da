"""The consumer's home page (我的卡 / My cards) is made of sections other parts provide.

Identity knows no cards, so the page asks a registry: each part registers a provider with
``@consumer_home_section("key")``; the provider gets the ``Console`` (the signed-in holder
is ``console.consumer`` / ``console.signed_in.consumer_id``; ``console.session`` and
``console.now`` for queries) and returns a ``HomeSection`` or None (nothing to show).
Sections appear in registration order. Until a part registers ``"cards"``, a placeholder
("no cards yet") stands in its place. See ``web/README.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tongka.web.i18n import N_

if TYPE_CHECKING:
    from tongka.web.console import Console


@dataclass(frozen=True)
class HomeSection:
    """One block of the page: a heading and a template rendered inside the page, where
    ``section.context`` holds the provider's data (``{{ section.context.cards }}``)."""

    title: str  # a message key or literal text
    template: str  # under web/templates, e.g. "_consumer_cards.html"
    context: dict[str, Any] = field(default_factory=dict)


SectionProvider = Callable[["Console"], Awaitable[HomeSection | None]]

CONSUMER_HOME_SECTIONS: dict[str, SectionProvider] = {}

# Shown while no part provides the section of that key.
PLACEHOLDERS: dict[str, HomeSection] = {
    "cards": HomeSection(title=N_("Cards"), template="_consumer_no_cards.html"),
}


def consumer_home_section(key: str) -> Callable[[SectionProvider], SectionProvider]:
    """Register ``provider`` as the section ``key`` (registering a key again replaces it)."""

    def register(provider: SectionProvider) -> SectionProvider:
        CONSUMER_HOME_SECTIONS[key] = provider
        return provider

    return register


async def consumer_home_sections(console: Console) -> list[HomeSection]:
    """The sections for the signed-in consumer, placeholders first where nothing is provided."""
    sections = [
        section for key, section in PLACEHOLDERS.items() if key not in CONSUMER_HOME_SECTIONS
    ]
    for provider in CONSUMER_HOME_SECTIONS.values():
        section = await provider(console)
        if section is not None:
            sections.append(section)
    return sections
