"""Password hashing with argon2id: a slow, memory-hard hash, the only form a password is kept in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB)
# Verified when an email is unknown, so a login takes as long whether or not the user exists.
_DUMMY_HASH = _hasher.hash("tongka-dummy-password")


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Swap the hasher (tests use cheap argon2id parameters; production never calls this)."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("tongka-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; always spends one hash verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
