"""Card numbers: Luhn, the keyed permutation, masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongka.cards import numbers
from tongka.cards.keys import CardKeys, new_secret
from tongka.crypto import DecryptionFailed

KEY = b"k" * 32


@given(st.text(alphabet="0123456789", min_size=1, max_size=18))
def test_a_check_digit_makes_every_payload_valid(payload: str) -> None:
    assert numbers.luhn_is_valid(payload + numbers.luhn_check_digit(payload))


@given(st.text(alphabet="0123456789", min_size=1, max_size=18), st.integers(0, 17), st.data())
def test_changing_one_digit_breaks_the_check(
    payload: str, position: int, data: st.DataObject
) -> None:
    number = payload + numbers.luhn_check_digit(payload)
    position = position % len(number)
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    changed = number[:position] + replacement + number[position + 1 :]
    assert not numbers.luhn_is_valid(changed)


@pytest.mark.parametrize(
    "number", ["4111111111111111", "5500005555555559", "6212345678901265", "79927398713"]
)
def test_known_valid_numbers(number: str) -> None:
    assert numbers.luhn_is_valid(number)


@pytest.mark.parametrize("digits", [1, 2, 3, 4, 5])
def test_the_scrambler_is_a_permutation(digits: int) -> None:
    scrambler = numbers.NumberScrambler(KEY, "628801", digits)
    images = [scrambler.permute(sequence) for sequence in range(10**digits)]
    assert sorted(images) == list(range(10**digits))


def test_consecutive_sequences_do_not_give_consecutive_numbers() -> None:
    scrambler = numbers.NumberScrambler(KEY, "628801", 9)
    images = [scrambler.permute(sequence) for sequence in range(100)]
    assert sum(1 for a, b in zip(images, images[1:], strict=False) if b == a + 1) < 3


def test_another_bin_or_key_scrambles_differently() -> None:
    one = numbers.NumberScrambler(KEY, "628801", 9).permute(7)
    assert numbers.NumberScrambler(KEY, "628802", 9).permute(7) != one
    assert numbers.NumberScrambler(b"x" * 32, "628801", 9).permute(7) != one


def test_a_number_is_bin_body_and_check_digit() -> None:
    number = numbers.NumberScrambler(KEY, "62880123", 7).number("62880123", 16, 42)
    assert len(number) == 16
    assert number.startswith("62880123")
    assert numbers.luhn_is_valid(number)


@pytest.mark.parametrize(
    ("length", "expected"),
    [(16, "6288 **** **** 1234"), (19, "6288 **** **** ***1 234")],
    ids=["16 digits", "19 digits"],
)
def test_masking_shows_first_and_last_four(length: int, expected: str) -> None:
    assert numbers.mask("628801", "1234", length) == expected


def test_capacity_is_the_body_space() -> None:
    assert numbers.capacity("628801", 16) == 10**9
    assert numbers.capacity("62880123", 16) == 10**7


def test_keys_are_distinct_per_purpose_and_secrets_hash_per_card() -> None:
    keys = CardKeys.from_root(b"r" * 32)
    assert len({keys.number_index_key, keys.number_encryption_key, keys.secret_hash_key}) == 3
    assert keys.hash_secret("12345678", "card_a") != keys.hash_secret("12345678", "card_b")
    assert keys.secret_matches("12345678", "card_a", keys.hash_secret("12345678", "card_a"))
    assert not keys.secret_matches("12345679", "card_a", keys.hash_secret("12345678", "card_a"))


def test_numbers_encrypt_bound_to_their_card() -> None:
    keys = CardKeys.from_root(b"r" * 32)
    sealed = keys.encrypt_number("6288011234567890", "card_a")
    assert b"6288011234567890" not in sealed
    assert keys.decrypt_number(sealed, "card_a") == "6288011234567890"
    with pytest.raises(DecryptionFailed):
        keys.decrypt_number(sealed, "card_b")


def test_secrets_have_at_least_eight_digits() -> None:
    secrets = {new_secret() for _ in range(200)}
    assert len(secrets) == 200
    assert all(secret.isdigit() and len(secret) >= 8 for secret in secrets)
