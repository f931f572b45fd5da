"""Channel amount conversions are exact both ways, and refuse what would round."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongka.payments.amounts import fen_to_minor, minor_to_yuan, require_cny, yuan_to_minor
from tongka.payments.channel import ChannelError

AMOUNTS = st.integers(min_value=-(10**15), max_value=10**15)


@given(AMOUNTS)
def test_yuan_round_trip_is_exact(amount: int) -> None:
    text = minor_to_yuan(amount)
    assert yuan_to_minor(text) == amount
    assert Decimal(text) * 100 == amount
    assert text.split(".")[1].__len__() == 2


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=99))
def test_yuan_text_to_minor(yuan: int, fen: int) -> None:
    assert yuan_to_minor(f"{yuan}.{fen:02d}") == yuan * 100 + fen
    assert minor_to_yuan(yuan * 100 + fen) == f"{yuan}.{fen:02d}"


@given(AMOUNTS)
def test_fen_is_the_integer_itself(amount: int) -> None:
    assert fen_to_minor(amount) == amount


@pytest.mark.parametrize("text", ["1.005", "1e2", "NaN", "", " ", "1_000", "abc", "0.001"])
def test_yuan_refuses_what_would_round(text: str) -> None:
    with pytest.raises(ChannelError):
        yuan_to_minor(text)


@pytest.mark.parametrize("value", [1.5, "100", True, None])
def test_fen_refuses_non_integers(value: object) -> None:
    with pytest.raises(ChannelError):
        fen_to_minor(value)


def test_minor_to_yuan_refuses_floats() -> None:
    with pytest.raises(TypeError):
        minor_to_yuan(1.0)  # type: ignore[arg-type]


def test_only_cny() -> None:
    require_cny("CNY")
    with pytest.raises(ChannelError):
        require_cny("USD")
