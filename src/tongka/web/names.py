"""Names instead of ids: the merchants, stores, products, holders and cards a page's rows
point at, loaded with one query per kind for the whole page (never one per row).

A list declares ``extras=names_of(merchants="merchant_id", products="product_id")``; its
template links them with the ``_list.html`` macros (``links.merchant(names, row.merchant_id)``).
The CSV export reads the same names, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import numbers
from tongka.cards.models import Card, CardProduct
from tongka.identity.models import Consumer, Merchant, Store
from tongka.identity.sms import mask_phone
from tongka.web.lists import Extras


@dataclass
class Names:
    """Id -> what people call it, per kind (a missing id shows as itself)."""

    merchants: dict[str, str] = field(default_factory=dict)
    stores: dict[str, str] = field(default_factory=dict)
    products: dict[str, str] = field(default_factory=dict)
    holders: dict[str, str] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)

    def of(self, kind: str, object_id: str | None) -> str:
        if not object_id:
            return ""
        known: dict[str, str] = getattr(self, kind)
        return known.get(object_id, object_id)


def holder_label(consumer: Consumer) -> str:
    """A holder as staff see them: the masked phone, and the name when known."""
    phone = mask_phone(consumer.phone)
    return f"{phone} {consumer.display_name}" if consumer.display_name else phone


def masked_card(card: Card) -> str:
    return numbers.mask(card.bin_prefix, card.last4, card.number_length)


async def load_names(
    session: AsyncSession,
    *,
    merchants: Iterable[str | None] = (),
    stores: Iterable[str | None] = (),
    products: Iterable[str | None] = (),
    holders: Iterable[str | None] = (),
    cards: Iterable[str | None] = (),
) -> Names:
    """The names of the given ids: one query per kind that has any."""
    names = Names()
    wanted = {
        kind: sorted({value for value in ids if value})
        for kind, ids in (
            ("merchants", merchants),
            ("stores", stores),
            ("products", products),
            ("holders", holders),
            ("cards", cards),
        )
    }
    if wanted["merchants"]:
        rows = await session.execute(
            select(Merchant.id, Merchant.legal_name).where(Merchant.id.in_(wanted["merchants"]))
        )
        names.merchants = {row.id: row.legal_name for row in rows}
    if wanted["stores"]:
        rows = await session.execute(
            select(Store.id, Store.name).where(Store.id.in_(wanted["stores"]))
        )
        names.stores = {row.id: row.name for row in rows}
    if wanted["products"]:
        rows = await session.execute(
            select(CardProduct.id, CardProduct.name).where(CardProduct.id.in_(wanted["products"]))
        )
        names.products = {row.id: row.name for row in rows}
    if wanted["holders"]:
        consumers = await session.scalars(
            select(Consumer).where(Consumer.id.in_(wanted["holders"]))
        )
        names.holders = {consumer.id: holder_label(consumer) for consumer in consumers}
    if wanted["cards"]:
        found = await session.execute(
            select(Card.id, Card.bin_prefix, Card.last4, Card.number_length).where(
                Card.id.in_(wanted["cards"])
            )
        )
        names.cards = {
            row.id: numbers.mask(row.bin_prefix, row.last4, row.number_length) for row in found
        }
    return names


def names_of(**attributes: str | Sequence[str]) -> Extras:
    """A list's ``extras``: ``names`` for the ids its rows hold, e.g.
    ``names_of(merchants="merchant_id")``, ``names_of(merchants=("issuer_id", "acceptor_id"))``."""

    async def extras(session: AsyncSession, rows: Sequence[Any]) -> dict[str, Any]:
        ids: dict[str, list[str | None]] = {}
        for kind, names in attributes.items():
            columns = (names,) if isinstance(names, str) else tuple(names)
            ids[kind] = [getattr(row, column) for row in rows for column in columns]
        return {"names": await load_names(session, **ids)}

    return extras
