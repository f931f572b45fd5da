"""Card numbers: BIN + scrambled sequence + Luhn check digit, and their masked display.

Why scramble: numbers drawn in plain order would let anyone who holds one card guess its
neighbours and try them on the public balance inquiry. A keyed permutation (a small Feistel
network over the decimal sequence space, FF1-style alternating halves) maps each sequence
number to a distinct body, so numbers stay collision-free (a permutation is a bijection)
while looking random to anyone without the key.
"""

from __future__ import annotations

import hashlib
import hmac

FEISTEL_ROUNDS = 8  # even, so the halves end where they started


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check (ISO/IEC 7812)."""
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = ord(char) - 48
        if index % 2 == 0:  # doubled: these sit at odd positions once the check digit is added
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_is_valid(number: str) -> bool:
    return number.isdigit() and len(number) >= 2 and luhn_check_digit(number[:-1]) == number[-1]


def body_digits(bin_prefix: str, number_length: int) -> int:
    """How many digits sit between the BIN and the check digit."""
    return number_length - len(bin_prefix) - 1


def capacity(bin_prefix: str, number_length: int) -> int:
    """How many distinct numbers a BIN range holds."""
    return 10 ** body_digits(bin_prefix, number_length)


class NumberScrambler:
    """A keyed permutation of ``range(10 ** digits)`` (one per product: the BIN is in the key)."""

    def __init__(self, key: bytes, bin_prefix: str, digits: int) -> None:
        self._key = hmac.digest(key, bin_prefix.encode(), hashlib.sha256)
        self._left_digits = digits // 2
        self._right_digits = digits - self._left_digits

    def _round(self, index: int, value: int) -> int:
        digest = hmac.digest(self._key, b"%d:%d" % (index, value), hashlib.sha256)
        return int.from_bytes(digest[:16], "big")

    def permute(self, sequence: int) -> int:
        left_modulus = 10**self._left_digits
        right_modulus = 10**self._right_digits
        left, right = divmod(sequence, right_modulus)
        moduli = (left_modulus, right_modulus)
        for index in range(FEISTEL_ROUNDS):
            mixed = (left + self._round(index, right)) % moduli[index % 2]
            left, right = right, mixed
        return left * right_modulus + right

    def number(self, bin_prefix: str, number_length: int, sequence: int) -> str:
        digits = body_digits(bin_prefix, number_length)
        payload = f"{bin_prefix}{self.permute(sequence):0{digits}d}"
        return payload + luhn_check_digit(payload)


def mask(bin_prefix: str, last4: str, number_length: int) -> str:
    """``6288 **** **** 1234``: the first four and the last four digits, groups of four."""
    hidden = number_length - 8
    shown = bin_prefix[:4] + "*" * hidden + last4
    return " ".join(shown[start : start + 4] for start in range(0, len(shown), 4))


def normalise(number: str) -> str:
    """A number as typed (spaces, dashes) reduced to its digits."""
    return "".join(char for char in number if char.isdigit())
