"""A payment's fee: the rate times the amount rounded once half up, plus the fixed part,
never more than the amount (Hypothesis over amounts and rates)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongka.errors import InvalidRequest
from tongka.payments.channel import ChannelName
from tongka.payments.fees import FeeSchedule, check_fee_schedule, fee_of
from tongka.payments.sandbox.state import fee_for

amounts = st.integers(min_value=1, max_value=10**12)
rates = st.decimals(min_value=0, max_value=Decimal("0.2"), places=6)
fixed = st.integers(min_value=0, max_value=10_000)


@given(amounts, rates, fixed)
def test_fee_is_the_rounded_product_plus_fixed_and_never_the_whole_plus(
    amount: int, rate: Decimal, fixed_minor: int
) -> None:
    fee = fee_of(amount, "CNY", FeeSchedule(rate, fixed_minor))
    exact = Decimal(amount) * rate
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)) + fixed_minor
    assert fee == min(expected, amount)
    assert 0 <= fee <= amount
    assert abs(Decimal(fee - fixed_minor) - exact) <= Decimal("0.5") or fee == amount


@given(amounts, rates)
def test_fee_grows_with_the_amount(amount: int, rate: Decimal) -> None:
    schedule = FeeSchedule(rate)
    assert fee_of(amount, "CNY", schedule) <= fee_of(amount + 1, "CNY", schedule)


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        (50_000, "0.006", 300),  # ¥500 at 0.6% = ¥3.00
        (12_345, "0.006", 74),  # 74.07 → 74
        (250, "0.006", 2),  # 1.5 → 2 (half up, not half even)
        (83, "0.006", 0),  # 0.498 → 0
        (84, "0.006", 1),  # 0.504 → 1
    ],
)
def test_half_up_at_the_fen(amount: int, rate: str, expected: int) -> None:
    assert fee_of(amount, "CNY", FeeSchedule(Decimal(rate))) == expected


@given(amounts)
def test_our_wechat_fee_equals_the_sandbox_statements(amount: int) -> None:
    assert fee_of(amount, "CNY", FeeSchedule(Decimal("0.006"))) == fee_for(
        ChannelName.WECHAT, amount
    )


@pytest.mark.parametrize(
    ("rate", "fixed_minor"),
    [(Decimal("-0.001"), 0), (Decimal("0.21"), 0), (Decimal("NaN"), 0), (Decimal(0), -1)],
)
def test_bad_schedules_are_refused(rate: Decimal, fixed_minor: int) -> None:
    with pytest.raises(InvalidRequest):
        check_fee_schedule(rate, fixed_minor)
