"""Issuing: numbers, one-time secrets, BIN capacity, batches and their export, concurrency."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import (
    KEYS,
    MERCHANT,
    OTHER_MERCHANT,
    active_product,
    count,
    event_types,
    issue,
    make_holder,
)
from tongka.cards import export, numbers, service
from tongka.cards.errors import (
    BatchNotReady,
    BinRangeExhausted,
    CardBatchNotFound,
    CardProductNotFound,
    ExportAlreadyDownloaded,
    HolderNotVerified,
    InvalidFaceValue,
)
from tongka.cards.models import Card, CardBatch, CardExportSegment, CardProduct
from tongka.clock import FixedClock
from tongka.db import Database
from tongka.errors import NotFound
from tongka.identity.models import KycLevel

PASSWORD = "a long export password"


async def test_a_card_is_issued_with_a_valid_number_and_a_secret_shown_once(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        issued = await issue(session, product.id, clock.now())
    assert numbers.luhn_is_valid(issued.number)
    assert issued.number.startswith(product.bin_prefix)
    assert len(issued.secret) >= 8
    async with database.transaction() as session:
        stored = await session.get_one(Card, issued.card.id)
        row = (await session.execute(select(Card.__table__).where(Card.id == stored.id))).one()
    # the database holds neither the number nor the secret in any readable form
    assert issued.number not in repr(row)
    assert issued.secret not in repr(row)
    assert stored.status == "issued"
    assert stored.last4 == issued.number[-4:]
    assert stored.number_index == KEYS.number_index(issued.number)
    assert KEYS.decrypt_number(stored.number_ciphertext, stored.id) == issued.number
    assert KEYS.secret_matches(issued.secret, stored.id, stored.secret_hash)
    assert await event_types(database, stored.id) == ["card.issued"]


async def test_face_values_outside_the_product_are_refused(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
    with pytest.raises(InvalidFaceValue):
        async with database.transaction() as session:
            await issue(session, product.id, clock.now(), face_value=12_345)
    assert await count(database, Card) == 0


async def test_a_named_card_is_issued_unbound_until_its_holder_consents(
    database: Database, clock: FixedClock
) -> None:
    """The holder is bound later, by consent (``binding``), never by the issuer's say-so."""
    async with database.transaction() as session:
        product = await active_product(
            session, clock.now(), is_named=True, max_balance=500_000, validity_months=None
        )
        issued = await issue(session, product.id, clock.now())
    assert issued.card.holder_id is None


@pytest.mark.parametrize(
    ("kyc_level", "refusal"),
    [(KycLevel.NONE, HolderNotVerified), (KycLevel.PHONE, None)],
    ids=["unverified holder refused", "phone-verified holder accepted"],
)
async def test_a_named_card_is_bound_to_a_verified_holder(
    database: Database, clock: FixedClock, kyc_level: KycLevel, refusal: type[Exception] | None
) -> None:
    async with database.transaction() as session:
        product = await active_product(
            session, clock.now(), is_named=True, max_balance=500_000, validity_months=None
        )
        holder = await make_holder(session, clock.now(), kyc_level)
    if refusal is not None:
        with pytest.raises(refusal):
            async with database.transaction() as session:
                await issue(session, product.id, clock.now(), holder_id=holder)
        assert await count(database, Card) == 0
    else:
        async with database.transaction() as session:
            issued = await issue(session, product.id, clock.now(), holder_id=holder)
        assert issued.card.holder_id == holder


async def test_a_named_card_for_an_unknown_holder_is_refused(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(
            session, clock.now(), is_named=True, max_balance=500_000, validity_months=None
        )
    with pytest.raises(NotFound):
        async with database.transaction() as session:
            await issue(session, product.id, clock.now(), holder_id="con_nobody")


async def test_another_merchant_cannot_issue_on_a_product(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
    with pytest.raises(CardProductNotFound):
        async with database.transaction() as session:
            await issue(session, product.id, clock.now(), merchant_id=OTHER_MERCHANT)


async def test_an_exhausted_bin_range_refuses_and_warns_before(
    database: Database, clock: FixedClock
) -> None:
    async with database.transaction() as session:
        product = await active_product(session, clock.now(), bin_prefix="62990001")
        capacity = numbers.capacity(product.bin_prefix, product.number_length)
        await session.execute(
            update(CardProduct)
            .where(CardProduct.id == product.id)
            .values(issued_count=capacity - 1)
        )
    async with database.transaction() as session:
        product = await session.get_one(CardProduct, product.id)
        await issue(session, product.id, clock.now())
    assert "card_product.capacity_low" in await event_types(database, product.id)
    with pytest.raises(BinRangeExhausted, match="62990001"):
        async with database.transaction() as session:
            await issue(session, product.id, clock.now())
    assert await count(database, Card) == 1


async def _batch(database: Database, clock: FixedClock, total: int, chunk_size: int) -> CardBatch:
    async with database.transaction() as session:
        product = await active_product(session, clock.now())
        return await service.create_batch(
            session,
            product.id,
            merchant_id=MERCHANT,
            count=total,
            face_value=50_000,
            export_password=PASSWORD,
            actor="user:ops",
            now=clock.now(),
            chunk_size=chunk_size,
        )


async def test_a_batch_issues_in_chunks_and_exports_once(
    database: Database, clock: FixedClock
) -> None:
    batch = await _batch(database, clock, total=25, chunk_size=10)
    seen: list[int] = []
    final = await service.run_batch(
        database,
        batch.id,
        keys=KEYS,
        now=clock.now(),
        on_progress=lambda progress: seen.append(progress.issued_count),
    )
    assert seen == [10, 20, 25]
    assert final.is_complete
    async with database.transaction() as session:
        content = await service.take_export(
            session, batch.id, merchant_id=MERCHANT, actor="user:ops", now=clock.now()
        )
    rows = list(export.decrypt_file(content, PASSWORD))
    assert rows[0] == export.CSV_HEADER
    assert len(rows) == 26
    async with database.transaction() as session:
        cards = (
            (await session.execute(select(Card).where(Card.batch_id == batch.id))).scalars().all()
        )
    by_index = {card.number_index: card for card in cards}
    for number, secret, face_value, currency, expiry in rows[1:]:
        card = by_index[KEYS.number_index(number)]
        assert KEYS.secret_matches(secret, card.id, card.secret_hash)
        assert (face_value, currency, expiry) == ("50000", "CNY", "36 months after activation")
    assert await count(database, CardExportSegment) == 0
    with pytest.raises(ExportAlreadyDownloaded):
        async with database.transaction() as session:
            await service.take_export(
                session, batch.id, merchant_id=MERCHANT, actor="user:ops", now=clock.now()
            )
    assert await event_types(database, batch.id) == [
        "card_batch.created",
        "card_batch.completed",
        "card_batch.exported",
    ]


async def test_an_interrupted_chunk_leaves_no_card_and_the_batch_resumes(
    database: Database, clock: FixedClock
) -> None:
    batch = await _batch(database, clock, total=20, chunk_size=10)
    async with database.transaction() as session:
        await service.issue_next_chunk(session, batch.id, keys=KEYS, now=clock.now())

    class Crash(Exception):
        pass

    async def interrupted_chunk() -> None:
        async with database.transaction() as session:
            await service.issue_next_chunk(session, batch.id, keys=KEYS, now=clock.now())
            raise Crash  # the process dies before the chunk commits

    with pytest.raises(Crash):
        await interrupted_chunk()
    assert await count(database, Card) == 10
    with pytest.raises(BatchNotReady):
        async with database.transaction() as session:
            await service.take_export(
                session, batch.id, merchant_id=MERCHANT, actor="a", now=clock.now()
            )
    await service.run_batch(database, batch.id, keys=KEYS, now=clock.now())
    async with database.transaction() as session:
        content = await service.take_export(
            session, batch.id, merchant_id=MERCHANT, actor="a", now=clock.now()
        )
    assert len(list(export.decrypt_file(content, PASSWORD))) == 21
    assert await count(database, Card) == 20


async def test_a_second_worker_on_the_same_chunk_changes_nothing(
    database: Database, clock: FixedClock
) -> None:
    batch = await _batch(database, clock, total=10, chunk_size=10)
    async with database.transaction() as session:
        first = await service.issue_next_chunk(session, batch.id, keys=KEYS, now=clock.now())
        again = await service.issue_next_chunk(session, batch.id, keys=KEYS, now=clock.now())
    assert (first.issued_now, again.issued_now) == (10, 0)
    assert await count(database, Card) == 10


async def test_another_merchant_cannot_take_the_export(
    database: Database, clock: FixedClock
) -> None:
    batch = await _batch(database, clock, total=1, chunk_size=10)
    await service.run_batch(database, batch.id, keys=KEYS, now=clock.now())
    with pytest.raises(CardBatchNotFound):
        async with database.transaction() as session:
            await service.take_export(
                session, batch.id, merchant_id=OTHER_MERCHANT, actor="b", now=clock.now()
            )


@pytest.mark.pg
async def test_concurrent_issuers_never_share_a_number(
    pg_database: Database, clock: FixedClock
) -> None:
    async with pg_database.transaction() as session:
        product = await active_product(session, clock.now())

    async def issue_some(worker: int) -> list[str]:
        issued = []
        for _ in range(10):

            async def one(session: AsyncSession) -> str:
                card = await issue(session, product.id, clock.now())
                return card.number

            issued.append(await pg_database.run(one))
        return issued

    batches = await asyncio.gather(*(issue_some(worker) for worker in range(16)))
    every_number = [number for batch in batches for number in batch]
    assert len(every_number) == 160
    assert len(set(every_number)) == 160
    async with pg_database.transaction() as session:
        stored = await session.get_one(CardProduct, product.id)
    assert stored.issued_count == 160
    assert await count(pg_database, Card) == 160
