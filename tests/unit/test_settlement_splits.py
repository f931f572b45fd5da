"""Split rules (分账): the parts always sum to the whole, caps hold, remainders are named."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tongka.settlement.errors import SplitInvalid
from tongka.settlement.splits import Remainder, Share, SplitRule, check_rule, split

THIRDS = SplitRule(
    (
        Share("issuer", Decimal(1) / 3),
        Share("acceptor", Decimal(1) / 3),
        Share("platform", 1 - 2 * (Decimal(1) / 3)),
    )
)


def test_largest_remainder_gives_the_odd_fen_to_the_largest_fraction() -> None:
    assert split(100, THIRDS) == {"issuer": 33, "acceptor": 33, "platform": 34}
    assert sum(split(1, THIRDS).values()) == 1


def test_fixed_first_then_percent_of_the_rest_remainder_to_a_named_party() -> None:
    rule = SplitRule(
        (
            Share("platform", fixed=30),
            Share("issuer", Decimal("0.05")),
            Share("acceptor"),
        ),
        remainder=Remainder.TO_PARTY,
        remainder_party="acceptor",
    )
    # 10,000 - 30 fixed = 9,970; 5 % of it is 498.5 → 498; the acceptor takes the rest
    assert split(10_000, rule) == {"platform": 30, "issuer": 498, "acceptor": 9_472}


def test_a_capped_share_gives_its_excess_to_the_excess_party() -> None:
    rule = SplitRule(
        (
            Share("issuer", Decimal("0.5"), cap_percent=Decimal("0.3")),
            Share("acceptor", Decimal("0.5")),
        ),
        excess_party="acceptor",
    )
    assert split(1_001, rule) == {"issuer": 300, "acceptor": 701}


@pytest.mark.parametrize(
    "rule",
    [
        SplitRule(()),
        SplitRule((Share("a", Decimal("0.5")), Share("a", Decimal("0.5")))),
        SplitRule((Share("a", Decimal("0.5")), Share("b", Decimal("0.4")))),
        SplitRule(
            (Share("a", Decimal("0.7")), Share("b", Decimal("0.4"))), Remainder.TO_PARTY, "a"
        ),
        SplitRule((Share("a", Decimal("0.5")),), Remainder.TO_PARTY, "z"),
        SplitRule((Share("a", Decimal("1"), cap=5),)),
        SplitRule((Share("a", Decimal("-0.5")), Share("b", Decimal("1.5")))),
    ],
    ids=["empty", "twice", "not-100", "over-100", "unknown-remainder", "cap-no-excess", "negative"],
)
def test_rules_that_cannot_divide_are_refused(rule: SplitRule) -> None:
    with pytest.raises(SplitInvalid):
        check_rule(rule)


def test_fixed_parts_above_the_amount_are_refused() -> None:
    rule = SplitRule((Share("a", fixed=50), Share("b")), Remainder.TO_PARTY, "b")
    with pytest.raises(SplitInvalid):
        split(49, rule)


percents = st.decimals(min_value=0, max_value=1, places=4)


@st.composite
def rules(draw: st.DrawFn) -> SplitRule:
    count = draw(st.integers(min_value=1, max_value=5))
    weights = draw(st.lists(st.integers(1, 10_000), min_size=count, max_size=count))
    total = sum(weights)
    fractions = [Decimal(w) / Decimal(total) for w in weights]
    fractions[-1] = 1 - sum(fractions[:-1], Decimal(0))  # exactly 100 %
    is_named = draw(st.booleans())
    shares = []
    for index, fraction in enumerate(fractions):
        capped = index < count - 1 and draw(st.booleans())
        shares.append(
            Share(
                f"p{index}",
                fraction,
                fixed=draw(st.integers(0, 100)),
                cap_percent=draw(percents) if capped else None,
                cap=draw(st.one_of(st.none(), st.integers(0, 5_000))) if capped else None,
            )
        )
    last = f"p{count - 1}"
    if is_named:
        return SplitRule(tuple(shares), Remainder.TO_PARTY, last)
    return SplitRule(tuple(shares), excess_party=last)


@given(st.integers(min_value=0, max_value=10**12), rules())
def test_parts_sum_to_the_whole_and_caps_hold(amount: int, rule: SplitRule) -> None:
    assume(sum(share.fixed for share in rule.shares) <= amount)
    parts = split(amount, rule)
    assert sum(parts.values()) == amount
    assert all(part >= 0 for part in parts.values())
    for share in rule.shares:
        if share.cap_percent is not None:
            assert parts[share.party] <= amount * share.cap_percent
        if share.cap is not None:
            assert parts[share.party] <= share.cap
    assert list(parts) == [share.party for share in rule.shares]


@given(st.integers(min_value=0, max_value=10**9), rules())
def test_largest_remainder_parts_are_within_a_fen_of_exact(amount: int, rule: SplitRule) -> None:
    assume(rule.remainder is Remainder.LARGEST_REMAINDER)
    assume(not any(share.is_capped for share in rule.shares))
    assume(sum(share.fixed for share in rule.shares) <= amount)
    rest = amount - sum(share.fixed for share in rule.shares)
    parts = split(amount, rule)
    for share in rule.shares:
        exact = share.fixed + Decimal(rest) * share.percent
        assert abs(parts[share.party] - exact) < 1
