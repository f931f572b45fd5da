"""The console's navigation: each page shows to whoever the policy table lets open it.

Adding a page for a new part is one template, one route and ONE line here, e.g.::

    NavItem("cards", N_("Cards"), "/console/cards", Action.CARD_SEARCH),

(the page's ``tongka.policy.Action`` decides who sees it; ``label`` is a key of
``tongka.web.i18n.MESSAGES``, or literal text.) Order in the list is order in the menu.
``register_nav_item`` does the same from a part's own module.
"""

from __future__ import annotations

from dataclasses import dataclass

from tongka.identity.principal import Principal, PrincipalKind
from tongka.policy import Action, allowed
from tongka.web.i18n import N_


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str  # a message key (``nav.stores``) or literal text
    path: str
    action: Action  # the page's action: the item shows to whoever the table allows it
    # a staff page a holder may also open (the order list) but reaches from its own menu
    staff_only: bool = False

    def visible_to(self, principal: Principal) -> bool:
        if self.staff_only and principal.kind is PrincipalKind.CONSUMER:
            return False
        return allowed(principal, self.action)


NAV: list[NavItem] = [
    NavItem("review", N_("Onboarding review"), "/console/review", Action.MERCHANT_REVIEW),
    NavItem("merchants", N_("Merchants"), "/console/merchants", Action.MERCHANT_READ),
    NavItem("stores", N_("Stores"), "/console/stores", Action.STORE_READ),
    NavItem("terminals", N_("Terminals"), "/console/terminals", Action.TERMINAL_READ),
    NavItem("users", N_("Users"), "/console/users", Action.USER_MANAGE),
    NavItem("api_keys", N_("API keys"), "/console/api_keys", Action.API_KEY_MANAGE),
    # --- conventions part: webhook endpoints + delivery attempts, and events ---------------
    NavItem("webhooks", N_("Webhooks"), "/console/webhooks", Action.WEBHOOK_MANAGE),
    NavItem("events", N_("Events"), "/console/events", Action.EVENT_READ),
    # --- consumers: their home page; sandbox SMS (development sign-in codes) for operators ---
    NavItem("my_cards", N_("My cards"), "/console/me", Action.CONSUMER_SELF),
    NavItem("sandbox_sms", N_("Sandbox SMS"), "/console/sandbox_sms", Action.SANDBOX_SMS_READ),
    # --- later parts (cards, sales, ...) add their lines here -------------------------------
    NavItem("card_products", N_("Card products"), "/console/card_products", Action.PRODUCT_READ),
    NavItem("cards", N_("Cards"), "/console/cards", Action.CARD_SEARCH),
    NavItem("card_batches", N_("Card batches"), "/console/card_batches", Action.BATCH_READ),
    NavItem("channels", N_("Payment channels"), "/console/channels", Action.CHANNEL_READ),
    NavItem("reserve", N_("Reserve funds"), "/console/reserve", Action.RESERVE_READ),
    NavItem("promotions", N_("Promotions"), "/console/promotions", Action.PROMOTION_READ),
    NavItem("buy_card", N_("Buy a card"), "/console/me/buy", Action.CONSUMER_BUY),
    NavItem("my_orders", N_("My orders"), "/console/me/orders", Action.CONSUMER_ORDERS),
]


def register_nav_item(item: NavItem, *, before: str | None = None) -> None:
    """Add ``item`` (once), at the end or before the item keyed ``before``."""
    if any(existing.key == item.key for existing in NAV):
        return
    index = next((i for i, existing in enumerate(NAV) if existing.key == before), len(NAV))
    NAV.insert(index, item)


def nav_for(principal: Principal) -> list[NavItem]:
    return [item for item in NAV if item.visible_to(principal)]
