"""Prefixed, sortable identifiers (``card_01J...``) for every public object.

Why ids read the system clock when no clock is passed: an id's time part is not a business
time (nothing is decided by it); it only keeps ids in creation order across processes, which
cursor pagination relies on. A test's ``FixedClock`` stands still, so ids drawn from it would
share one millisecond and sort at random. The time still comes through ``tongka.clock``
(``SYSTEM_CLOCK``), the one place the wall clock is read; a caller may pass its own clock.
"""

from __future__ import annotations

import os

from tongka.clock import SYSTEM_CLOCK, Clock

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, remainder = divmod(value, 32)
        chars.append(_ALPHABET[remainder])
    return "".join(reversed(chars))


def new_id(prefix: str, *, clock: Clock = SYSTEM_CLOCK) -> str:
    """A new id: type prefix + 48-bit millisecond time + 80 random bits (ULID layout).

    Time first keeps ids roughly ordered by creation, which cursor pagination relies on.
    """
    millis = int(clock.now().timestamp() * 1000)
    randomness = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(millis, 10)}{_encode(randomness, 16)}"
