"""Pickers: choosing a merchant, store, product or card holder by name instead of typing
its id. Each kind says which action lets a caller pick from it and how its choices are
scoped (a merchant picks only among its own stores and products; a store-bound caller only
its store), exactly as the pages listing them are.

The ``picker`` macro (``_list.html``) preloads the first ``PICKER_SIZE`` choices (so it
works without JavaScript) and searches more through ``/console/pickers/<kind>?q=``
(``pages/pickers.py``), which answers ``<option>``s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, false, func, or_, select

from tongka.cards import service as cards
from tongka.cards.models import Card, CardProduct
from tongka.identity import service as identity
from tongka.identity.models import Consumer, Merchant, MerchantStatus, Store
from tongka.identity.sms import canonical_phone
from tongka.policy import Action, allowed, scope_of
from tongka.web.console import Console
from tongka.web.names import holder_label

PICKER_SIZE = 50
Choice = tuple[str, str]  # (id, label)


def _contains(column: Any, text: str) -> Any:
    return func.lower(column).contains(text.lower(), autoescape=True)


@dataclass(frozen=True)
class Picker:
    """One kind of object to pick: who may (``action``), the choices in the caller's scope
    matching a search, their label and their order."""

    action: Action
    model: Any
    scoped: Callable[[Console], Select[Any]]
    search: Callable[[str], Any]
    label: Callable[[Any], str]
    order: Any


def _merchants(console: Console) -> Select[Any]:
    return identity.merchants_query(scope_of(console.signed_in).merchant())


def _acceptors(console: Console) -> Select[Any]:
    """Merchants an issuer may propose an acceptance agreement to: the other active ones
    (their legal name is all it sees of them)."""
    statement = select(Merchant).where(Merchant.status == MerchantStatus.ACTIVE)
    own = console.signed_in.merchant_id
    return statement.where(Merchant.id != own) if own else statement.where(false())


def _stores(console: Console) -> Select[Any]:
    scope = scope_of(console.signed_in)
    return identity.stores_query(scope.merchant(), scope.store())


def _products(console: Console) -> Select[Any]:
    return cards.products_query(merchant_id=scope_of(console.signed_in).merchant())


def _holders(console: Console) -> Select[Any]:
    """Platform staff pick any holder; a merchant's staff only the holders of its cards."""
    merchant_id = scope_of(console.signed_in).merchant()
    statement = select(Consumer)
    if merchant_id is None:
        return statement
    return statement.where(
        Consumer.id.in_(select(Card.holder_id).where(Card.merchant_id == merchant_id))
    )


def _merchant_search(text: str) -> Any:
    return or_(_contains(Merchant.legal_name, text), Merchant.id == text)


def holder_search(text: str) -> Any:
    """A holder by phone (in full, or its last digits) or by name."""
    digits = canonical_phone(text)
    conditions = [_contains(Consumer.display_name, text), Consumer.id == text]
    if digits.isdigit():
        conditions += [Consumer.phone == digits, Consumer.phone.endswith(digits, autoescape=True)]
    return or_(*conditions)


PICKERS: dict[str, Picker] = {
    "merchants": Picker(
        Action.MERCHANT_READ,
        Merchant,
        _merchants,
        _merchant_search,
        lambda row: row.legal_name,
        Merchant.legal_name,
    ),
    "acceptors": Picker(
        Action.AGREEMENT_MANAGE,
        Merchant,
        _acceptors,
        _merchant_search,
        lambda row: row.legal_name,
        Merchant.legal_name,
    ),
    "stores": Picker(
        Action.STORE_READ,
        Store,
        _stores,
        lambda text: or_(_contains(Store.name, text), _contains(Store.city, text)),
        lambda row: f"{row.name} · {row.city}",
        Store.name,
    ),
    "products": Picker(
        Action.PRODUCT_READ,
        CardProduct,
        _products,
        lambda text: or_(_contains(CardProduct.name, text), CardProduct.bin_prefix == text),
        lambda row: f"{row.name} · {row.bin_prefix}",
        CardProduct.name,
    ),
    "holders": Picker(
        Action.CARD_SEARCH,
        Consumer,
        _holders,
        holder_search,
        holder_label,
        Consumer.phone,
    ),
}


async def choices(console: Console, kind: str, text: str = "") -> list[Choice]:
    """The first ``PICKER_SIZE`` choices of ``kind`` in the caller's scope matching ``text``."""
    picker = PICKERS[kind]
    statement = picker.scoped(console)
    text = text.replace("\x00", "").strip()[:100]
    if text:
        statement = statement.where(picker.search(text))
    statement = statement.order_by(picker.order, picker.model.id).limit(PICKER_SIZE)
    return [(row.id, picker.label(row)) for row in await console.session.scalars(statement)]


async def preloaded(console: Console, kind: str, selected_id: str | None) -> list[Choice]:
    """What a picker shows before any search: the first choices, with the selected one
    (when the caller may see it) even if it is not among them; nothing for a caller who
    may not pick this kind."""
    if not allowed(console.signed_in, PICKERS[kind].action):
        return []
    found = await choices(console, kind)
    if selected_id and all(choice_id != selected_id for choice_id, _ in found):
        picker = PICKERS[kind]
        statement = picker.scoped(console).where(picker.model.id == selected_id)
        row = await console.session.scalar(statement)
        if row is not None:
            found.insert(0, (row.id, picker.label(row)))
    return found
