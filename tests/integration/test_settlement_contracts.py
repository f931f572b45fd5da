"""Merchant contracts: versions from a date on, never back; fees per kind; the account."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.cards_support import ensure_merchant
from tests.redemption_support import make_till, request
from tests.settlement_support import ACCOUNT_NUMBER, make_contract, terms
from tongka.cards.keys import card_keys
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.redemption import fees, service
from tongka.redemption.models import Redemption
from tongka.settlement import contracts
from tongka.settlement.contracts import BankAccount
from tongka.settlement.errors import (
    AccountNameMismatch,
    ContractInvalid,
    ContractRetroactive,
)
from tongka.settlement.fee_terms import FeeKind, FeeTerms
from tongka.settlement.models import MerchantContract

TODAY = date(2026, 1, 1)  # the clock's business date in Shanghai


async def test_versions_apply_from_their_date(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        first = await make_contract(session, "mch_a", TODAY, settings=settings, now=now)
        second = await make_contract(
            session,
            "mch_a",
            date(2026, 3, 1),
            settings=settings,
            now=now,
            fees={FeeKind.REDEMPTION_OWN: FeeTerms(Decimal("0.002"), fixed=10)},
        )
    async with database.transaction() as session:
        assert (await contracts.contract_on(session, "mch_a", date(2026, 2, 28))).id == first.id
        found = await contracts.contract_on(session, "mch_a", date(2026, 3, 1))
        assert found is not None
        assert (found.id, found.version) == (second.id, 2)
        assert await contracts.contract_on(session, "mch_a", date(2025, 12, 31)) is None
        assert contracts.fee_for(found, FeeKind.REDEMPTION_OWN, 10_000) == 30  # 20 + 10
        assert contracts.fee_for(found, FeeKind.TOP_UP, 10_000) is None


async def test_a_version_cannot_start_in_the_past_or_before_the_latest(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        await make_contract(session, "mch_a", date(2026, 2, 1), settings=settings, now=now)
    for day in (date(2025, 12, 31), date(2026, 1, 15), date(2026, 2, 1)):
        async with database.transaction() as session:
            with pytest.raises(ContractRetroactive):
                await make_contract(session, "mch_a", day, settings=settings, now=now)
    async with database.transaction() as session:
        assert len(await contracts.list_contracts(session, "mch_a")) == 1


async def test_the_account_must_be_in_the_verified_name_and_is_stored_sealed(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        await ensure_merchant(session, "mch_a", now)
        with pytest.raises(AccountNameMismatch):
            await contracts.create_contract(
                session,
                terms("mch_a", TODAY, bank_account=BankAccount("工行", "别人公司", ACCOUNT_NUMBER)),
                settings=settings,
                actor="user:ops",
                now=now,
            )
        row = await make_contract(session, "mch_a", TODAY, settings=settings, now=now)
    async with database.transaction() as session:
        stored = await session.scalar(select(MerchantContract).where(MerchantContract.id == row.id))
        assert stored is not None
        assert ACCOUNT_NUMBER not in stored.account_number_encrypted
        assert contracts.masked_account(stored) == "**** **** **** 3445"
        assert contracts.reveal_account_number(stored, settings) == ACCOUNT_NUMBER


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cycle_days", 2),
        ("minimum_payout", -1),
        ("reserve_percent", Decimal("0.5")),
        ("fees", {FeeKind.TOP_UP: FeeTerms(Decimal("-0.01"))}),
        ("fees", {FeeKind.TOP_UP: FeeTerms(Decimal("0.01"), minimum=-5)}),
    ],
    ids=["cycle", "minimum", "reserve", "negative-rate", "negative-minimum"],
)
async def test_terms_out_of_range_are_refused(
    database: Database, clock: FixedClock, settings: Settings, field: str, value: object
) -> None:
    async with database.transaction() as session:
        with pytest.raises(ContractInvalid):
            await make_contract(
                session, "mch_a", TODAY, settings=settings, now=clock.now(), **{field: value}
            )


async def test_a_reserve_needs_its_days(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    async with database.transaction() as session:
        with pytest.raises(ContractInvalid) as refused:
            await make_contract(
                session,
                "mch_a",
                TODAY,
                settings=settings,
                now=clock.now(),
                reserve_percent=Decimal("0.1"),
                reserve_days=0,
            )
    assert refused.value.param == "reserve_days"


def test_fee_terms_minimum_fixed_rounding_and_never_above_the_amount() -> None:
    terms_ = FeeTerms(Decimal("0.0035"), minimum=10, fixed=5)
    assert terms_.fee(10_000, "CNY") == 40  # 35 + 5
    assert terms_.fee(100, "CNY") == 10  # 0.35 → 0, +5, at least 10
    assert terms_.fee(7, "CNY") == 7  # never above the amount
    assert terms_.fee(0, "CNY") == 0
    half = FeeTerms(Decimal("0.005"))
    assert half.fee(100, "CNY") == 1  # 0.5 half up
    from tongka.money import Rounding

    assert FeeTerms(Decimal("0.005"), rounding=Rounding.HALF_EVEN).fee(100, "CNY") == 0


def test_fee_of_picks_the_other_issuer_terms_for_another_issuers_card() -> None:
    rule = fees.ContractFees(
        "mch_b",
        Decimal("0.006"),
        own=FeeTerms(Decimal("0.003")),
        other_issuer=FeeTerms(Decimal("0.01")),
    )
    assert fees.fee_of(10_000, "CNY", rule, issuer_merchant_id="mch_b") == 30
    assert fees.fee_of(10_000, "CNY", rule, issuer_merchant_id="mch_a") == 100
    assert fees.fee_of(10_000, "CNY", rule) == 30
    bare = fees.ContractFees("mch_b", Decimal("0.006"), own=None, other_issuer=None)
    assert fees.fee_of(10_000, "CNY", bare) == 60  # no terms: the platform default


async def test_redemption_takes_the_contract_fee_instead_of_the_default(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    now = clock.now()
    async with database.transaction() as session:
        till = await make_till(session, now, amount=50_000)
        before = await fees.redemption_fees(
            session,
            till.merchant_id,
            default_rate=Decimal("0.006"),
            timezone="Asia/Shanghai",
            now=now,
        )
        assert before == Decimal("0.006")
        await make_contract(session, till.merchant_id, TODAY, settings=settings, now=now)
        rate = await fees.redemption_fees(
            session,
            till.merchant_id,
            default_rate=Decimal("0.006"),
            timezone="Asia/Shanghai",
            now=now,
        )
        purchase = await service.redeem(
            session,
            request(till, 10_000, "with-contract"),
            keys=card_keys(settings),
            fee_rate=rate,  # type: ignore[arg-type]  # fee_of takes both
            now=now,
        )
    async with database.transaction() as session:
        record = await session.get(Redemption, purchase.redemptions[0].id)
        assert record is not None
        assert record.fee == 30  # the contract's 0.3 %, not the default 0.6 %
