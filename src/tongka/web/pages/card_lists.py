"""The card pages' lists (``tongka.web.lists``): products, cards and batches — their
columns, sort keys, filters and CSV cells. The card search finds a card by its full number
through the blind index (never echoed back), its last four digits, or its holder's phone
(in full or its last digits) or name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import numbers, service
from tongka.cards.keys import card_keys
from tongka.cards.models import Card, CardBatch, CardProduct
from tongka.identity.models import Consumer
from tongka.web.console import Console
from tongka.web.i18n import N_
from tongka.web.lists import (
    Column,
    Label,
    ListSpec,
    date_range,
    id_filter,
    matching,
    money,
    picker_filter,
    select_filter,
    text_filter,
)
from tongka.web.names import load_names, names_of
from tongka.web.pickers import holder_search


def masked_number(card: Card) -> str:
    return numbers.mask(card.bin_prefix, card.last4, card.number_length)


def capacity(product: CardProduct) -> int:
    return numbers.capacity(product.bin_prefix, product.number_length)


PRODUCTS = ListSpec(
    name="card_products",
    id_column=CardProduct.id,
    columns=[
        Column("name", N_("Name"), sort=CardProduct.name, csv=lambda row, x: row.name),
        Column(
            "bin", N_("BIN · length"), csv=lambda row, x: f"{row.bin_prefix} · {row.number_length}"
        ),
        Column(
            "status",
            N_("Status"),
            sort=CardProduct.status,
            csv=lambda row, x: Label("product", row.status),
        ),
        Column(
            "issued",
            N_("Issued / capacity"),
            sort=CardProduct.issued_count,
            csv=lambda row, x: f"{row.issued_count} / {capacity(row)}",
        ),
        Column(
            "max_balance",
            N_("Maximum balance"),
            sort=CardProduct.max_balance,
            csv=lambda row, x: money(row.max_balance, row.currency),
        ),
        Column("currency", N_("Currency"), csv=lambda row, x: row.currency, in_page=False),
        Column(
            "merchant",
            N_("Merchant"),
            csv=lambda row, x: x["names"].of("merchants", row.merchant_id),
            platform_only=True,
        ),
        Column(
            "created_at",
            N_("Created"),
            sort=CardProduct.created_at,
            csv=lambda row, x: row.created_at,
            in_page=False,
        ),
        Column("actions"),
    ],
    filters=[
        text_filter(
            "q",
            N_("Search"),
            matching(CardProduct.name, exact=(CardProduct.bin_prefix, CardProduct.id)),
            N_("Name or BIN"),
        ),
        id_filter("product_id", N_("Card product"), CardProduct.id),
        picker_filter(
            "merchant_id", N_("Merchant"), "merchants", CardProduct.merchant_id, platform_only=True
        ),
        select_filter(
            "status",
            N_("Status"),
            CardProduct.status,
            [status.value for status in service.ProductStatus],
            "product",
        ),
        date_range("created", N_("Created"), CardProduct.created_at),
    ],
    extras=names_of(merchants="merchant_id"),
)


def _by_number(statement: Select[Any], text: str, console: Console) -> Select[Any]:
    """The card with exactly this number, found through the blind index."""
    index = card_keys(console.settings).number_index(numbers.normalise(text))
    return statement.where(Card.number_index == index)


def _by_last4(statement: Select[Any], text: str, console: Console) -> Select[Any]:
    return statement.where(Card.last4 == numbers.normalise(text)[-4:])


def _by_holder(statement: Select[Any], text: str, console: Console) -> Select[Any]:
    """Cards whose holder's phone (in full or its last digits) or name matches."""
    holders = select(Consumer.id).where(holder_search(text))
    return statement.where(Card.holder_id.in_(holders))


async def _card_extras(session: AsyncSession, rows: Sequence[Card]) -> dict[str, Any]:
    """The page's product and holder names and balances: one query each for all its rows."""
    names = await load_names(
        session,
        products=[card.product_id for card in rows],
        holders=[card.holder_id for card in rows],
    )
    return {"names": names, "balances": await service.card_balances(session, rows)}


CARDS = ListSpec(
    name="cards",
    id_column=Card.id,
    columns=[
        Column("card", N_("Card"), csv=lambda card, x: masked_number(card)),
        Column(
            "product",
            N_("Card product"),
            csv=lambda card, x: x["names"].of("products", card.product_id),
        ),
        Column(
            "status",
            N_("Status"),
            sort=Card.status,
            csv=lambda card, x: Label("card_status", card.status),
        ),
        Column(
            "balance",
            N_("Balance"),
            csv=lambda card, x: money(x["balances"][card.id].total, card.currency),
        ),
        Column("currency", N_("Currency"), csv=lambda card, x: card.currency, in_page=False),
        Column(
            "holder", N_("Holder"), csv=lambda card, x: x["names"].of("holders", card.holder_id)
        ),
        Column(
            "created_at", N_("Created"), sort=Card.created_at, csv=lambda card, x: card.created_at
        ),
    ],
    filters=[
        text_filter("number", N_("Card number"), _by_number, N_("Full number"), sensitive=True),
        text_filter("last4", N_("Last 4 digits"), _by_last4),
        text_filter("holder", N_("Holder phone or name"), _by_holder),
        picker_filter("holder_id", N_("Holder"), "holders", Card.holder_id),
        picker_filter("product_id", N_("Card product"), "products", Card.product_id),
        select_filter(
            "status",
            N_("Status"),
            Card.status,
            [status.value for status in service.CardStatus],
            "card_status",
        ),
        date_range("created", N_("Created"), Card.created_at),
    ],
    extras=_card_extras,
)


BATCHES = ListSpec(
    name="card_batches",
    id_column=CardBatch.id,
    columns=[
        Column("batch", N_("Batch"), csv=lambda row, x: row.id),
        Column("reference", N_("Reference"), csv=lambda row, x: row.reference, in_page=False),
        Column(
            "product",
            N_("Card product"),
            csv=lambda row, x: x["names"].of("products", row.product_id),
        ),
        Column(
            "face_value",
            N_("Face value"),
            sort=CardBatch.face_value,
            csv=lambda row, x: money(row.face_value, row.currency),
        ),
        Column("currency", N_("Currency"), csv=lambda row, x: row.currency, in_page=False),
        Column("total", N_("Progress"), sort=CardBatch.total, csv=lambda row, x: row.issued_count),
        Column("count", N_("Count"), csv=lambda row, x: row.total, in_page=False),
        Column(
            "status",
            N_("Status"),
            sort=CardBatch.status,
            csv=lambda row, x: Label("batch", row.status),
        ),
        Column(
            "created_at",
            N_("Created"),
            sort=CardBatch.created_at,
            csv=lambda row, x: row.created_at,
        ),
        Column("exported_at", N_("Exported"), csv=lambda row, x: row.exported_at, in_page=False),
        Column("actions"),
    ],
    filters=[
        text_filter(
            "q",
            N_("Search"),
            matching(CardBatch.reference, exact=(CardBatch.id,)),
            N_("Batch or reference"),
        ),
        picker_filter("product_id", N_("Card product"), "products", CardBatch.product_id),
        select_filter(
            "status",
            N_("Status"),
            CardBatch.status,
            [status.value for status in service.BatchStatus],
            "batch",
        ),
        date_range("created", N_("Created"), CardBatch.created_at),
    ],
    extras=names_of(products="product_id"),
)
