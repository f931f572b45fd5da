"""Receipts (电子回单): issued once per order, a code nobody guesses, tampering detected."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.receipts_support import issued, refund_facts, sample_facts
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.sales import receipts
from tongka.sales.receipts import (
    Receipt,
    ReceiptInvalid,
    ReceiptKind,
    ReceiptLine,
    ReceiptNotFound,
    ReceiptNotVerified,
    ReceiptOriginalMissing,
    ReceiptRefundExceedsOriginal,
    check_receipt,
    issue_receipt,
    normalise_code,
    receipt_facts,
    verify_receipt,
)

CODE_SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$")


async def _count(database: Database, model: type = Receipt) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_paid_order_gets_a_signed_receipt_with_a_random_code(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(database, settings, clock.now())
    assert CODE_SHAPE.match(receipt.code), receipt.code
    assert receipt.id.startswith("rcpt_")
    assert receipt.signature.startswith("v1:")
    assert verify_receipt(receipt, settings=settings)
    facts = receipt_facts(receipt)
    assert facts == sample_facts()
    async with database.transaction() as session:
        checked = await check_receipt(session, receipt.code, settings=settings)
        events = (await session.execute(select(Event))).scalars().all()
    assert checked.receipt.id == receipt.id
    assert checked.facts.amount_minor == 100000
    assert [(event.type, event.object_id) for event in events] == [("receipt.issued", receipt.id)]
    assert events[0].data["code"] == receipt.code


async def test_codes_differ_between_orders_and_are_not_derived_from_them(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    codes = set()
    for index in range(20):
        facts = sample_facts(order_id=f"ord_{index:026d}")
        codes.add((await issued(sqlite_database, settings, clock.now(), facts)).code)
    assert len(codes) == 20
    assert all(CODE_SHAPE.match(code) for code in codes)


async def test_issuing_twice_returns_the_first_receipt(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    first = await issued(database, settings, clock.now())
    clock.advance(timedelta(minutes=5))
    again = await issued(database, settings, clock.now(), sample_facts(buyer_display="别人"))
    assert (again.id, again.code, again.content) == (first.id, first.code, first.content)
    assert await _count(database) == 1
    assert await _count(database, Event) == 1


async def test_the_same_order_issued_twice_in_one_transaction_is_one_receipt(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    async with sqlite_database.transaction() as session:
        first = await issue_receipt(session, sample_facts(), now=clock.now(), settings=settings)
        second = await issue_receipt(session, sample_facts(), now=clock.now(), settings=settings)
    assert first.id == second.id
    assert await _count(sqlite_database) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"content": None}, id="content-amount"),
        pytest.param({"amount_minor": 1}, id="amount-column"),
        pytest.param({"merchant_id": "mch_someone_else"}, id="merchant-column"),
        pytest.param({"signature": "v1:" + "0" * 64}, id="signature"),
    ],
)
async def test_a_receipt_whose_stored_content_changed_does_not_verify(
    database: Database, settings: Settings, clock: FixedClock, tamper: dict[str, object]
) -> None:
    receipt = await issued(database, settings, clock.now())
    if tamper.get("content", "") is None:
        tamper = {"content": receipt.content.replace('"amount_minor":100000', '"amount_minor":1')}
        assert tamper["content"] != receipt.content
    async with database.transaction() as session:
        await session.execute(update(Receipt).where(Receipt.id == receipt.id).values(**tamper))
    async with database.transaction() as session:
        stored = await session.get(Receipt, receipt.id)
        assert stored is not None
        assert not verify_receipt(stored, settings=settings)
        with pytest.raises(ReceiptNotVerified):
            await check_receipt(session, receipt.code, settings=settings)


async def test_a_receipt_signed_under_another_key_does_not_verify(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(sqlite_database, settings, clock.now())
    other = settings.model_copy(update={"secret_key": "cd" * 32})
    assert not verify_receipt(receipt, settings=other)


async def test_codes_are_read_leniently_and_unknown_ones_are_not_found(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    receipt = await issued(sqlite_database, settings, clock.now())
    typed = receipt.code.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    assert normalise_code(typed) == receipt.code
    async with sqlite_database.transaction() as session:
        assert (await check_receipt(session, typed, settings=settings)).receipt.id == receipt.id
        for wrong in ("", "abc", "zzz_00000000000000000000000000", "U" * 20, "0" * 20):
            with pytest.raises(ReceiptNotFound):
                await check_receipt(session, wrong, settings=settings)


async def test_a_refund_receipt_names_the_original_and_never_exceeds_it(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    original = await issued(database, settings, clock.now())
    first = await issued(database, settings, clock.now(), refund_facts(60000, "rfd_1"))
    assert first.original_receipt_id == original.id
    assert first.kind == ReceiptKind.REFUND
    assert receipt_facts(first).refund_id == "rfd_1"
    assert verify_receipt(first, settings=settings)
    async with database.transaction() as session:
        checked = await check_receipt(session, first.code, settings=settings)
    assert checked.original_code == original.code
    # the same refund again: the same receipt; another refund beyond the payment: refused
    assert (await issued(database, settings, clock.now(), refund_facts(60000, "rfd_1"))).id == (
        first.id
    )
    with pytest.raises(ReceiptRefundExceedsOriginal):
        await issued(database, settings, clock.now(), refund_facts(40001, "rfd_2"))
    last = await issued(database, settings, clock.now(), refund_facts(40000, "rfd_2"))
    assert last.original_receipt_id == original.id
    assert await _count(database) == 3


async def test_a_refund_without_a_payment_receipt_is_refused(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    with pytest.raises(ReceiptOriginalMissing):
        await issued(sqlite_database, settings, clock.now(), refund_facts())
    assert await _count(sqlite_database) == 0


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        pytest.param({"amount_minor": 99999}, "lines", id="lines-do-not-add-up"),
        pytest.param({"amount_minor": 100000.0}, "amount_minor", id="float-amount"),
        pytest.param({"amount_minor": 0, "lines": ()}, "amount_minor", id="zero"),
        pytest.param({"bonus_minor": -1}, "bonus_minor", id="negative-bonus"),
        pytest.param({"lines": ()}, "lines", id="no-lines"),
        pytest.param({"merchant_name": " "}, "merchant_name", id="no-merchant-name"),
        pytest.param({"refund_id": "rfd_9"}, "refund_id", id="purchase-naming-a-refund"),
        pytest.param({"kind": ReceiptKind.REFUND}, "refund_id", id="refund-without-its-id"),
        pytest.param({"kind": "gift"}, "kind", id="unknown-kind"),
        pytest.param(
            {
                "lines": (
                    ReceiptLine(
                        product_name="卡", face_value_minor=50000, count=0, amount_minor=100000
                    ),
                )
            },
            "lines[0].count",
            id="zero-count",
        ),
    ],
)
async def test_facts_that_cannot_be_a_receipt_are_refused_and_write_nothing(
    sqlite_database: Database,
    settings: Settings,
    clock: FixedClock,
    overrides: dict[str, object],
    param: str,
) -> None:
    with pytest.raises(ReceiptInvalid) as refused:
        await issued(sqlite_database, settings, clock.now(), sample_facts(**overrides))
    assert refused.value.param == param
    assert await _count(sqlite_database) == 0
    assert await _count(sqlite_database, Event) == 0


async def test_a_full_account_number_or_phone_is_masked_before_it_is_stored(
    sqlite_database: Database, settings: Settings, clock: FixedClock
) -> None:
    facts = sample_facts(buyer_display="张三 13812345678", payer_account_masked="6222021234567890")
    receipt = await issued(sqlite_database, settings, clock.now(), facts)
    stated = receipt_facts(receipt)
    assert stated.buyer_display == "张三 138****5678"
    assert stated.payer_account_masked == "622*********7890"
    assert "13812345678" not in receipt.content
    assert "6222021234567890" not in receipt.content


def test_the_code_alphabet_has_no_ambiguous_letters() -> None:
    assert not set("ILOU") & set(receipts.CODE_ALPHABET)
    assert len(receipts.CODE_ALPHABET) == 32
    assert receipts.CODE_LENGTH >= 16
