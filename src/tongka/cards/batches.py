"""Batch issue (批量发卡): up to 100,000 cards in resumable, idempotent chunks run by the
worker, with their numbers reserved when the batch is created, and the one-time export.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import export, numbers
from tongka.cards.errors import (
    BatchNotReady,
    BinRangeExhausted,
    CardBatchNotFound,
    ExportAlreadyDownloaded,
    InvalidCardProduct,
)
from tongka.cards.issuing import (
    DEFAULT_CHUNK_SIZE,
    MAX_BATCH_SIZE,
    BatchProgress,
    BatchStatus,
    check_face_value,
    create_cards,
    issuable_product,
    reserve_sequences,
)
from tongka.cards.keys import CardKeys
from tongka.cards.models import CardBatch, CardExportSegment, CardProduct
from tongka.cards.products import get_product
from tongka.db import Database
from tongka.events import record_event
from tongka.ids import new_id


async def create_batch(
    session: AsyncSession,
    product_id: str,
    *,
    merchant_id: str | None,
    count: int,
    face_value: int,
    export_password: str,
    actor: str,
    now: datetime,
    reference: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> CardBatch:
    """A batch job (no cards yet): the worker or ``tongka cards issue-batch`` runs it.

    The batch's ``count`` sequence numbers are reserved now, so a batch that was accepted
    can always be issued, and batches (and single cards) created later cannot take its room:
    a product whose BIN range cannot hold ``count`` more cards, counting every earlier
    batch's reservation, is refused with 422 ``bin_range_exhausted`` (param ``count``).
    """
    product = await issuable_product(session, product_id, merchant_id)
    check_face_value(product, face_value)
    if product.is_named:
        raise InvalidCardProduct(
            "Named cards are issued one by one to their holders, not in batches.",
            param="product_id",
            details={"problem": "named_not_in_batches"},
        )
    if not 1 <= count <= MAX_BATCH_SIZE:
        raise InvalidCardProduct(
            f"A batch holds 1 to {MAX_BATCH_SIZE:,} cards.",
            param="count",
            details={"problem": "batch_size", "maximum": MAX_BATCH_SIZE},
        )
    capacity = numbers.capacity(product.bin_prefix, product.number_length)
    if product.issued_count + count > capacity:
        raise BinRangeExhausted(
            f"The BIN range {product.bin_prefix} has room for "
            f"{capacity - product.issued_count} more cards, not {count}.",
            param="count",
            details={
                "bin_prefix": product.bin_prefix,
                "room": capacity - product.issued_count,
                "count": count,
            },
        )
    try:
        first_sequence = await reserve_sequences(session, product, count, actor=actor, now=now)
    except BinRangeExhausted as exc:  # another issuer took the room since the check above
        raise BinRangeExhausted(exc.message, param="count", details=exc.details) from exc
    key = export.export_key_from_password(export_password)
    batch = CardBatch(
        id=new_id("cbt"),
        merchant_id=product.merchant_id,
        product_id=product.id,
        face_value=face_value,
        currency=product.currency,
        total=count,
        issued_count=0,
        chunk_size=chunk_size,
        status=BatchStatus.PENDING,
        reference=reference,
        export_salt=key.salt,
        export_public_key=key.public_key,
        created_by=actor,
        created_at=now,
        first_sequence=first_sequence,
        attempts=0,
    )
    session.add(batch)
    await session.flush()
    await batch_event(session, batch, "card_batch.created", actor, now)
    return batch


async def cancel_batch(
    session: AsyncSession, batch_id: str, *, actor: str, now: datetime, reason: str
) -> bool:
    """Cancel a batch that has issued nothing yet (an unpaid order's held batch): the issue
    job never runs it, and its reserved numbers stop blocking later issues.

    No card ever carried a number of its range (nothing was issued or exported), so the
    room goes back to the product when the range is still the last one reserved
    (``issued_count`` rolls back to the batch's ``first_sequence``, one conditional
    statement): the next batch takes those very sequences. A range with later ones after
    it stays void — counted as used, never issued. False, changing nothing, when the batch
    has started issuing or is no longer pending."""
    cancelled = await session.execute(
        update(CardBatch)
        .where(
            CardBatch.id == batch_id,
            CardBatch.status == BatchStatus.PENDING.value,
            CardBatch.issued_count == 0,
        )
        .values(status=BatchStatus.CANCELLED.value, next_attempt_at=None, last_error=reason[:500])
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:  # type: ignore[attr-defined]
        return False
    batch = await get_batch(session, batch_id)
    await session.refresh(batch)
    released = False
    if batch.first_sequence is not None:
        rolled_back = await session.execute(
            update(CardProduct)
            .where(
                CardProduct.id == batch.product_id,
                CardProduct.issued_count == batch.first_sequence + batch.total,
            )
            .values(issued_count=batch.first_sequence)
            .execution_options(synchronize_session=False)
        )
        released = rolled_back.rowcount == 1  # type: ignore[attr-defined]
    await batch_event(
        session,
        batch,
        "card_batch.cancelled",
        actor,
        now,
        reason=reason[:200],
        numbers="released" if released else "void",
    )
    return True


async def batch_event(
    session: AsyncSession, batch: CardBatch, type: str, actor: str, now: datetime, **data: Any
) -> None:
    await record_event(
        session,
        type=type,
        object_type="card_batch",
        object_id=batch.id,
        actor=actor,
        now=now,
        merchant_id=batch.merchant_id,
        data={"total": batch.total, "issued_count": batch.issued_count, **data},
    )


async def get_batch(
    session: AsyncSession, batch_id: str, *, merchant_id: str | None = None
) -> CardBatch:
    statement = select(CardBatch).where(CardBatch.id == batch_id)
    if merchant_id is not None:
        statement = statement.where(CardBatch.merchant_id == merchant_id)
    batch = (await session.execute(statement)).scalar_one_or_none()
    if batch is None:
        raise CardBatchNotFound("No such card batch.", param="batch_id")
    return batch


def _expiry_label(product: CardProduct) -> str:
    if product.validity_months is None:
        return "none"
    return f"{product.validity_months} months after activation"


async def issue_next_chunk(
    session: AsyncSession, batch_id: str, *, keys: CardKeys, now: datetime
) -> BatchProgress:
    """Issue the batch's next chunk: cards and their sealed export rows commit together.

    Idempotent per chunk: the progress counter moves only from the value this call read,
    so a second worker (or a resumed run) racing for the same chunk changes nothing, and
    the unique (batch, chunk) export row backs that up. A chunk whose transaction is lost
    leaves no card behind, hence no card whose secret nobody knows.
    """
    batch = await get_batch(session, batch_id)
    if batch.status in (BatchStatus.COMPLETED, BatchStatus.FAILED):
        return BatchProgress(batch.id, 0, batch.issued_count, batch.total)
    issued_before = batch.issued_count
    count = min(batch.chunk_size, batch.total - issued_before)
    issued_after = issued_before + count
    status = BatchStatus.COMPLETED if issued_after == batch.total else BatchStatus.RUNNING
    claimed = await session.execute(
        update(CardBatch)
        .where(
            CardBatch.id == batch.id,
            CardBatch.issued_count == issued_before,
            CardBatch.status != BatchStatus.FAILED.value,
        )
        .values(
            issued_count=issued_after,
            status=status.value,
            completed_at=now if status is BatchStatus.COMPLETED else None,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(batch)  # another worker issued this chunk
        return BatchProgress(batch.id, 0, batch.issued_count, batch.total)
    product = await get_product(session, batch.product_id)
    issued = await create_cards(
        session,
        product,
        count=count,
        face_value=batch.face_value,
        keys=keys,
        actor=batch.created_by,
        now=now,
        batch_id=batch.id,
        first_sequence=(
            None if batch.first_sequence is None else batch.first_sequence + issued_before
        ),
    )
    chunk_index = issued_before // batch.chunk_size
    expiry = _expiry_label(product)
    plaintext = export.csv_rows(
        (card.number, card.secret, batch.face_value, batch.currency, expiry) for card in issued
    )
    session.add(
        CardExportSegment(
            batch_id=batch.id,
            chunk_index=chunk_index,
            sealed=export.seal_segment(batch.export_public_key, batch.id, chunk_index, plaintext),
        )
    )
    await session.flush()
    await session.refresh(batch)
    if status is BatchStatus.COMPLETED:
        await batch_event(session, batch, "card_batch.completed", batch.created_by, now)
    return BatchProgress(batch.id, count, batch.issued_count, batch.total)


async def run_batch(
    database: Database,
    batch_id: str,
    *,
    keys: CardKeys,
    now: datetime,
    on_progress: Callable[[BatchProgress], None] | None = None,
    max_chunks: int | None = None,
) -> BatchProgress:
    """Issue the remaining chunks (at most ``max_chunks``), each in its own transaction.

    Safe to re-run and to run in several processes at once.
    """

    async def chunk(session: AsyncSession) -> BatchProgress:
        return await issue_next_chunk(session, batch_id, keys=keys, now=now)

    chunks = 0
    while True:
        progress = await database.run(chunk)
        chunks += 1
        if on_progress is not None:
            on_progress(progress)
        if progress.is_complete or (max_chunks is not None and chunks >= max_chunks):
            return progress


async def unfinished_batch_ids(
    session: AsyncSession, limit: int = 10, *, now: datetime | None = None
) -> list[str]:
    """Batches still to issue, oldest first; with ``now``, only those not waiting to retry."""
    statement = select(CardBatch.id).where(
        CardBatch.status.in_([BatchStatus.PENDING.value, BatchStatus.RUNNING.value])
    )
    if now is not None:
        statement = statement.where(
            (CardBatch.next_attempt_at.is_(None)) | (CardBatch.next_attempt_at <= now)
        )
    statement = statement.order_by(CardBatch.id).limit(limit)
    return list((await session.execute(statement)).scalars().all())


async def take_export(
    session: AsyncSession, batch_id: str, *, merchant_id: str | None, actor: str, now: datetime
) -> str:
    """The encrypted export file, once: its segments are deleted as it is handed out."""
    batch = await get_batch(session, batch_id, merchant_id=merchant_id)
    if batch.status != BatchStatus.COMPLETED:
        raise BatchNotReady(
            f"The batch has issued {batch.issued_count} of {batch.total} cards; the export "
            "is ready when it completes.",
            details={"issued": batch.issued_count, "total": batch.total},
        )
    claimed = await session.execute(
        update(CardBatch)
        .where(CardBatch.id == batch.id, CardBatch.exported_at.is_(None))
        .values(exported_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ExportAlreadyDownloaded(
            "The export was already downloaded; it can be taken only once."
        )
    segments = (
        await session.execute(
            select(CardExportSegment.sealed)
            .where(CardExportSegment.batch_id == batch.id)
            .order_by(CardExportSegment.chunk_index)
        )
    ).scalars()
    key = export.ExportKey(salt=batch.export_salt, public_key=batch.export_public_key)
    content = export.build_file(key.header(batch.id), list(segments))
    await session.execute(delete(CardExportSegment).where(CardExportSegment.batch_id == batch.id))
    await batch_event(session, batch, "card_batch.exported", actor, now)
    return content


def batches_query(*, merchant_id: str | None) -> Select[tuple[CardBatch]]:
    statement = select(CardBatch)
    if merchant_id is not None:
        statement = statement.where(CardBatch.merchant_id == merchant_id)
    return statement


async def list_batches(session: AsyncSession, *, merchant_id: str | None) -> list[CardBatch]:
    statement = batches_query(merchant_id=merchant_id).order_by(CardBatch.id.desc())
    return list((await session.execute(statement)).scalars().all())
