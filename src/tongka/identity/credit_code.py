"""The unified social credit code (统一社会信用代码, GB 32100-2015).

Eighteen characters: registration authority (1), organisation type (1), administrative
division (6 digits), organisation code (9, GB 11714) and a check character. The alphabet is
the digits and the capital letters without I, O, Z, S and V (31 characters); the check
character is ``31 - (sum of value * weight mod 31)``, with 31 written as ``0``.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES = {character: value for value, character in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# [0-9], not \d: \d would accept full-width and other Unicode digits.
_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def check_character(first_seventeen: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(
        _VALUES[character] * weight
        for character, weight in zip(first_seventeen, _WEIGHTS, strict=True)
    )
    return ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid credit code, or ``None`` if it is."""
    if len(code) != 18:
        return "must be 18 characters long"
    if not _SHAPE.match(code):
        return "may only contain digits and capital letters except I, O, S, V and Z"
    if check_character(code[:17]) != code[17]:
        return "check character does not match (GB 32100-2015)"
    return None


def normalize_credit_code(code: str) -> str:
    """Upper-case and strip spaces: how codes are written on business licences and typed."""
    return code.replace(" ", "").strip().upper()
