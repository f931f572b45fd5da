"""The console's navigation, by audience (platform, merchant, consumer) and role.

Adding a page for a new part is one template, one route and ONE line here, e.g.::

    NavItem("cards", "nav.cards", "/console/cards", ("merchant",)),

(``label`` is a key of ``tongka.web.i18n.MESSAGES``, or literal text.) Order in the list
is order in the menu. ``register_nav_item`` does the same from a part's own module.
"""

from __future__ import annotations

from dataclasses import dataclass

from tongka.identity.principal import Principal


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str  # a message key (``nav.stores``) or literal text
    path: str
    audiences: tuple[str, ...]  # "platform", "merchant", "consumer"
    roles: tuple[str, ...] = ()  # empty: every role of those audiences

    def visible_to(self, principal: Principal) -> bool:
        if principal.kind.value not in self.audiences:
            return False
        return not self.roles or principal.has_role(*self.roles)


NAV: list[NavItem] = [
    NavItem("review", "nav.review", "/console/review", ("platform",)),
    NavItem("merchants", "nav.merchants", "/console/merchants", ("platform", "merchant")),
    NavItem("stores", "nav.stores", "/console/stores", ("platform", "merchant")),
    NavItem("terminals", "nav.terminals", "/console/terminals", ("platform", "merchant")),
    NavItem(
        "users",
        "nav.users",
        "/console/users",
        ("platform", "merchant"),
        ("admin", "merchant_admin"),
    ),
    NavItem(
        "api_keys",
        "nav.api_keys",
        "/console/api_keys",
        ("platform", "merchant"),
        ("admin", "merchant_admin"),
    ),
    # --- conventions part: webhook endpoints + delivery attempts, and events ---------------
    NavItem(
        "webhooks",
        "nav.webhooks",
        "/console/webhooks",
        ("platform", "merchant"),
        ("admin", "merchant_admin"),
    ),
    NavItem(
        "events",
        "nav.events",
        "/console/events",
        ("platform", "merchant"),
        ("admin", "merchant_admin"),
    ),
    # --- consumers: their home page; sandbox SMS (development sign-in codes) for operators ---
    NavItem("my_cards", "nav.my_cards", "/console/me", ("consumer",)),
    NavItem("sandbox_sms", "nav.sandbox_sms", "/console/sandbox_sms", ("platform",), ("support",)),
    # --- later parts (cards, sales, ...) add their lines here -------------------------------
    NavItem(
        "card_products", "nav.card_products", "/console/card_products", ("platform", "merchant")
    ),
    NavItem("cards", "nav.cards", "/console/cards", ("platform", "merchant")),
    NavItem("card_batches", "nav.card_batches", "/console/card_batches", ("platform", "merchant")),
]


def register_nav_item(item: NavItem, *, before: str | None = None) -> None:
    """Add ``item`` (once), at the end or before the item keyed ``before``."""
    if any(existing.key == item.key for existing in NAV):
        return
    index = next((i for i, existing in enumerate(NAV) if existing.key == before), len(NAV))
    NAV.insert(index, item)


def nav_for(principal: Principal) -> list[NavItem]:
    return [item for item in NAV if item.visible_to(principal)]
