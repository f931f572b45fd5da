"""Issuing (发卡): one card, or a batch of up to 100,000 in resumable chunks.

Numbers never collide and are never reused: each issue first reserves a range of sequence
numbers with one atomic ``UPDATE card_products SET issued_count = issued_count + n ...
RETURNING`` (concurrent issuers get disjoint ranges; the row lock is held only by that
statement's transaction), then maps each sequence through the product's keyed permutation.
The unique blind index on ``cards`` is the last line of defence.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import numbers
from tongka.cards.acceptance import ensure_product_acceptance
from tongka.cards.errors import (
    BinRangeExhausted,
    HolderNotVerified,
    InvalidFaceValue,
    ProductNotActive,
)
from tongka.cards.keys import CardKeys, new_secret
from tongka.cards.models import Card, CardProduct
from tongka.cards.products import CAPACITY_WARNING_RATIO, ProductStatus, get_product
from tongka.errors import amount_detail
from tongka.events import record_event
from tongka.identity import service as identity
from tongka.identity.models import KycLevel
from tongka.ids import new_id

MAX_BATCH_SIZE = 100_000
# Who may hold a named card. The phone level lets a signed-in member get one; a platform
# that reads 第二十一条's real-name rule strictly raises this to KycLevel.ID_CARD.
NAMED_CARD_MIN_KYC = KycLevel.PHONE
DEFAULT_CHUNK_SIZE = 5_000


class CardStatus(enum.StrEnum):
    ISSUED = "issued"
    ACTIVE = "active"
    FROZEN = "frozen"
    LOST = "lost"
    EXPIRED = "expired"
    CLOSED = "closed"


class BatchStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # parked after repeated failures, with ``last_error``; retry re-queues
    CANCELLED = "cancelled"  # never issued (an unpaid order's held batch); its room released


@dataclass(frozen=True)
class BatchProgress:
    batch_id: str
    issued_now: int  # by this call
    issued_count: int
    total: int

    @property
    def is_complete(self) -> bool:
        return self.issued_count == self.total


@dataclass(frozen=True)
class IssuedCard:
    """A new card with its full number and secret: the only time either is available."""

    card: Card
    number: str
    secret: str


def check_face_value(product: CardProduct, face_value: int) -> None:
    if product.face_values is not None:
        if face_value not in product.face_values:
            raise InvalidFaceValue(
                f"{product.name} is sold in face values {product.face_values}; "
                f"{face_value} is not one of them.",
                param="face_value",
                details={
                    "problem": "not_listed",
                    "product": product.name,
                    "face_value": amount_detail(face_value, product.currency),
                    "face_values": [
                        amount_detail(v, product.currency) for v in product.face_values
                    ],
                },
            )
        return
    low, high = product.face_value_min or 0, product.face_value_max or 0
    if not low <= face_value <= high:
        raise InvalidFaceValue(
            f"{product.name} takes face values from {low} to {high}; {face_value} is outside.",
            param="face_value",
            details={
                "problem": "out_of_range",
                "product": product.name,
                "face_value": amount_detail(face_value, product.currency),
                "minimum": amount_detail(low, product.currency),
                "maximum": amount_detail(high, product.currency),
            },
        )


async def issuable_product(
    session: AsyncSession, product_id: str, merchant_id: str | None
) -> CardProduct:
    product = await get_product(session, product_id, merchant_id=merchant_id)
    if product.status != ProductStatus.ACTIVE:
        raise ProductNotActive(
            f"The product is {product.status}: cards are issued only once the platform has "
            "approved it.",
            param="product_id",
            details={"status": product.status},
        )
    await ensure_product_acceptance(session, product)  # an agreement revoked since: refused
    return product


async def reserve_sequences(
    session: AsyncSession, product: CardProduct, count: int, *, actor: str, now: datetime
) -> int:
    """Reserve ``count`` sequence numbers atomically; returns the first one."""
    capacity = numbers.capacity(product.bin_prefix, product.number_length)
    statement = (
        update(CardProduct)
        .where(CardProduct.id == product.id, CardProduct.issued_count + count <= capacity)
        .values(issued_count=CardProduct.issued_count + count)
        .returning(CardProduct.issued_count)
        .execution_options(synchronize_session=False)
    )
    issued = (await session.execute(statement)).scalar_one_or_none()
    if issued is None:
        raise BinRangeExhausted(
            f"The BIN range {product.bin_prefix} has no room for {count} more cards "
            f"(capacity {capacity}); the product needs a new BIN range.",
            param="product_id",
            details={
                "bin_prefix": product.bin_prefix,
                "room": max(0, capacity - product.issued_count),
                "count": count,
            },
        )
    if issued >= capacity * CAPACITY_WARNING_RATIO and product.capacity_warned_at is None:
        await session.execute(
            update(CardProduct)
            .where(CardProduct.id == product.id)
            .values(capacity_warned_at=now)
            .execution_options(synchronize_session=False)
        )
        await record_event(
            session,
            type="card_product.capacity_low",
            object_type="card_product",
            object_id=product.id,
            actor=actor,
            now=now,
            merchant_id=product.merchant_id,
            data={"issued_count": issued, "capacity": capacity},
        )
    return issued - count


def _new_card_rows(
    product: CardProduct,
    first_sequence: int,
    count: int,
    *,
    face_value: int,
    keys: CardKeys,
    now: datetime,
    batch_id: str | None = None,
    holder_id: str | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Rows for ``cards`` and the (number, secret) of each, in the same order."""
    scrambler = numbers.NumberScrambler(
        keys.number_permutation_key,
        product.bin_prefix,
        numbers.body_digits(product.bin_prefix, product.number_length),
    )
    rows: list[dict[str, Any]] = []
    credentials: list[tuple[str, str]] = []
    for sequence in range(first_sequence, first_sequence + count):
        card_id = new_id("card")
        number = scrambler.number(product.bin_prefix, product.number_length, sequence)
        secret = new_secret()
        rows.append(
            {
                "id": card_id,
                "merchant_id": product.merchant_id,
                "product_id": product.id,
                "batch_id": batch_id,
                "number_index": keys.number_index(number),
                "number_ciphertext": keys.encrypt_number(number, card_id),
                "bin_prefix": product.bin_prefix,
                "last4": number[-4:],
                "number_length": product.number_length,
                "secret_hash": keys.hash_secret(secret, card_id),
                "status": CardStatus.ISSUED.value,
                "currency": product.currency,
                "face_value": face_value,
                "holder_id": holder_id,
                "replaced_by_card_id": None,
                "failed_secret_attempts": 0,
                "locked_until": None,
                "activated_at": None,
                "expires_at": None,
                "expired_at": None,
                "closed_at": None,
                "exchangeable_until": None,
                "last_reminder_days": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        credentials.append((number, secret))
    return rows, credentials


async def create_cards(
    session: AsyncSession,
    product: CardProduct,
    *,
    count: int,
    face_value: int,
    keys: CardKeys,
    actor: str,
    now: datetime,
    holder_id: str | None = None,
    batch_id: str | None = None,
    first_sequence: int | None = None,
) -> list[IssuedCard]:
    """Insert ``count`` new issued cards in one statement and return them with credentials.

    ``first_sequence``: numbers already reserved (a batch's); otherwise they are reserved here.
    """
    first = first_sequence
    if first is None:
        first = await reserve_sequences(session, product, count, actor=actor, now=now)
    rows, credentials = _new_card_rows(
        product,
        first,
        count,
        face_value=face_value,
        keys=keys,
        now=now,
        batch_id=batch_id,
        holder_id=holder_id,
    )
    await session.execute(insert(Card), rows)
    return [
        IssuedCard(card=Card(**row), number=number, secret=secret)
        for row, (number, secret) in zip(rows, credentials, strict=True)
    ]


async def issue_card(
    session: AsyncSession,
    product_id: str,
    *,
    merchant_id: str | None,
    face_value: int,
    keys: CardKeys,
    actor: str,
    now: datetime,
    holder_id: str | None = None,
) -> IssuedCard:
    """Issue one card (e.g. a virtual member card), status ``issued``, without a holder.

    ``merchant_id`` scopes the product to its issuer (``None``: a platform caller). A
    merchant binds the card to its holder only with the holder's consent
    (``binding.request_binding``); ``holder_id`` binds directly and is for the system
    alone (demo data, and the sale that will bind its buyer): never pass a merchant's input.
    A named card (记名卡) issued without a holder is bound before it is handed over.
    """
    product = await issuable_product(session, product_id, merchant_id)
    check_face_value(product, face_value)
    if holder_id is not None:
        await check_holder(session, holder_id, is_named=product.is_named)
    [issued] = await create_cards(
        session,
        product,
        count=1,
        face_value=face_value,
        keys=keys,
        actor=actor,
        now=now,
        holder_id=holder_id,
    )
    card = await session.get(Card, issued.card.id)
    assert card is not None
    await record_event(
        session,
        type="card.issued",
        object_type="card",
        object_id=card.id,
        actor=actor,
        now=now,
        merchant_id=card.merchant_id,
        data={"product_id": product.id, "face_value": face_value, "last4": card.last4},
    )
    return IssuedCard(card=card, number=issued.number, secret=issued.secret)


async def check_holder(session: AsyncSession, holder_id: str, *, is_named: bool) -> None:
    """The holder exists (else not found) and, for a named card (记名卡), is verified to
    ``NAMED_CARD_MIN_KYC``; checked whenever a card gets its holder."""
    consumer = await identity.get_consumer(session, holder_id)
    if is_named and consumer.kyc_level < NAMED_CARD_MIN_KYC:
        raise HolderNotVerified(
            f"A named card needs a holder verified to KYC level {int(NAMED_CARD_MIN_KYC)} "
            f"({NAMED_CARD_MIN_KYC.name.lower()}); this holder is at level {consumer.kyc_level}.",
            param="holder_id",
            details={
                "required_kyc": NAMED_CARD_MIN_KYC.name.lower(),
                "holder_kyc": KycLevel(consumer.kyc_level).name.lower(),
            },
        )
