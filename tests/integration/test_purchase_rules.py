"""The purchase rules of the regulation: each at, just under and just over its threshold,
each refusal naming its rule and threshold; off when the platform turns them off."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.cards_support import ensure_consumer
from tongka.db import Database
from tongka.identity.models import KycLevel
from tongka.sales.models import Order
from tongka.sales.purchase_rules import (
    BuyerKind,
    PurchaseFacts,
    PurchaseKind,
    PurchaseRefused,
    PurchaseRules,
    check_funding,
    check_purchase,
    get_purchase_rules,
    set_purchase_rules,
)

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
DAY = date(2026, 12, 3)
QR, BANK = "native_qr", "bank_transfer"


def facts(**overrides: Any) -> PurchaseFacts:
    values: dict[str, Any] = {
        "buyer_kind": BuyerKind.PERSON,
        "buyer_key": "consumer:con_a",
        "holder_id": None,
        "is_real_name_given": False,
        "is_named": False,
        "kind": PurchaseKind.PURCHASE,
        "amount_minor": 10_000,
        "currency": "CNY",
        "channel": None,
        "method": QR,
    }
    values.update(overrides)
    return PurchaseFacts(**values)


async def _check(
    database: Database, purchase: PurchaseFacts, day: date | None = None
) -> str | None:
    """The refusing rule's code, or None when allowed; a refusal names its rule."""
    refusal: PurchaseRefused | None = None
    async with database.transaction() as session:
        try:
            await check_purchase(session, purchase, now=NOW, business_date=day)
        except PurchaseRefused as refused:
            refusal = refused
    if refusal is None:
        return None
    assert refusal.details["rule"] == refusal.code.removeprefix("purchase_")
    return refusal.code


CASES = [
    # anonymous cards: ¥10,000 needs a real name (a unit paying by transfer, so only this rule)
    (
        "real_name_under",
        {"amount_minor": 999_999, "buyer_kind": BuyerKind.UNIT, "method": BANK},
        None,
    ),
    (
        "real_name_at",
        {"amount_minor": 1_000_000, "buyer_kind": BuyerKind.UNIT, "method": BANK},
        "purchase_real_name_required",
    ),
    (
        "real_name_over_given",
        {
            "amount_minor": 1_000_001,
            "buyer_kind": BuyerKind.UNIT,
            "method": BANK,
            "is_real_name_given": True,
        },
        None,
    ),
    # a unit: ¥5,000 by bank transfer
    ("unit_under", {"amount_minor": 499_999, "buyer_kind": BuyerKind.UNIT}, None),
    (
        "unit_at",
        {"amount_minor": 500_000, "buyer_kind": BuyerKind.UNIT},
        "purchase_bank_transfer_required",
    ),
    (
        "unit_over_by_transfer",
        {"amount_minor": 500_001, "buyer_kind": BuyerKind.UNIT, "method": BANK},
        None,
    ),
    # a person: ¥50,000 by bank transfer (named cards: no real-name rule in the way)
    (
        "person_under",
        {"amount_minor": 4_999_999, "is_named": True, "holder_id": "con_verified"},
        None,
    ),
    (
        "person_at",
        {"amount_minor": 5_000_000, "is_named": True, "holder_id": "con_verified"},
        "purchase_bank_transfer_required",
    ),
    (
        "person_over_cash",
        {
            "amount_minor": 5_000_001,
            "is_named": True,
            "holder_id": "con_verified",
            "method": "cash",
        },
        "purchase_bank_transfer_required",
    ),
    # one top-up: ¥5,000 by bank transfer
    ("top_up_under", {"amount_minor": 499_999, "kind": PurchaseKind.TOP_UP}, None),
    (
        "top_up_at",
        {"amount_minor": 500_000, "kind": PurchaseKind.TOP_UP},
        "purchase_bank_transfer_required",
    ),
    (
        "top_up_over_by_transfer",
        {"amount_minor": 500_001, "kind": PurchaseKind.TOP_UP, "method": BANK},
        None,
    ),
    # a named card records its holder's verified identity
    ("named_phone_only", {"is_named": True, "holder_id": "con_phone"}, "purchase_named_unverified"),
    ("named_no_holder", {"is_named": True}, "purchase_named_unverified"),
    ("named_verified", {"is_named": True, "holder_id": "con_verified"}, None),
]


@pytest.mark.parametrize(
    ("overrides", "refused"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_each_rule_at_its_threshold(
    database: Database, overrides: dict[str, Any], refused: str | None
) -> None:
    async with database.transaction() as session:
        await ensure_consumer(session, "con_phone", NOW, KycLevel.PHONE)
        await ensure_consumer(session, "con_verified", NOW, KycLevel.ID_CARD)
    assert await _check(database, facts(**overrides)) == refused


async def test_a_refusal_names_its_threshold(database: Database) -> None:
    with pytest.raises(PurchaseRefused) as refused:
        async with database.transaction() as session:
            await check_purchase(
                session, facts(amount_minor=600_000, buyer_kind=BuyerKind.UNIT), now=NOW
            )
    assert refused.value.code == "purchase_bank_transfer_required"
    assert refused.value.details["threshold"] == {"amount": 500_000, "currency": "CNY"}


@pytest.mark.parametrize(
    ("funding_type", "refused"),
    [("credit_card", True), ("debit_card", False), ("balance", False), (None, False)],
)
def test_no_credit_card_buys_a_card(funding_type: str | None, refused: bool) -> None:
    if refused:
        with pytest.raises(PurchaseRefused) as error:
            check_funding(facts(), funding_type, "wechat")
        assert error.value.code == "purchase_credit_card_forbidden"
    else:
        check_funding(facts(), funding_type, "wechat")


def _order(index: int, amount: int, day: date = DAY, buyer: str = "unit:acme") -> Order:
    return Order(
        id=f"ord_split{index}",
        merchant_id="mch_a",
        kind="batch",
        status="fulfilled",
        product_id="prd_a",
        face_value_minor=amount,
        card_count=1,
        amount_minor=amount,
        bonus_minor=0,
        refunded_minor=0,
        currency="CNY",
        buyer_kind="unit",
        buyer_key=buyer,
        is_real_name_given=False,
        method=QR,
        batch_options={},
        business_date=day,
        created_by="t",
        expires_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("earlier", "amount", "given", "refused"),
    [
        ([480_000], 490_000, False, None),  # the second just under: allowed
        ([480_000, 455_000], 499_000, False, "purchase_splitting_refused"),  # the third
        ([480_000, 455_000], 499_000, True, None),  # ... with the real name
        ([480_000, 300_000], 499_000, False, None),  # one earlier is not just under
        ([480_000, 455_000], 300_000, False, None),  # this one is not just under
    ],
    ids=["second", "third", "third_real_name", "earlier_far_under", "this_far_under"],
)
async def test_splitting_just_under_a_threshold(
    database: Database, earlier: list[int], amount: int, given: bool, refused: str | None
) -> None:
    async with database.transaction() as session:
        session.add_all(_order(index, value) for index, value in enumerate(earlier))
        session.add(_order(9, 490_000, buyer="unit:other"))  # another buyer's
        session.add(_order(8, 490_000, day=date(2026, 12, 2)))  # the day before
    purchase = facts(
        buyer_kind=BuyerKind.UNIT,
        buyer_key="unit:acme",
        amount_minor=amount,
        is_real_name_given=given,
    )
    assert await _check(database, purchase, DAY) == refused


async def test_the_platform_configures_and_turns_off_the_rules(database: Database) -> None:
    unit = facts(amount_minor=300_000, buyer_kind=BuyerKind.UNIT)
    assert await _check(database, unit) is None
    async with database.transaction() as session:
        rules = replace(PurchaseRules(), unit_bank_transfer_minor=200_000)
        await set_purchase_rules(session, rules, actor="user:ops", now=NOW)
    assert await _check(database, unit) == "purchase_bank_transfer_required"
    async with database.transaction() as session:
        await set_purchase_rules(session, replace(rules, is_enforced=False), actor="ops", now=NOW)
        assert not (await get_purchase_rules(session, NOW)).is_enforced
    assert await _check(database, unit) is None
