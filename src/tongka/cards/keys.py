"""Keys and keyed primitives for card numbers and secrets (see docs/decisions/0004).

Every key is derived with ``tongka.crypto.derive_key`` from the platform's root secret
(``Settings.secret_key_bytes()``) under its own purpose label, so a leak of one derived key
(say the blind-index key) reveals nothing about the others, and the database holds none.
Card numbers are sealed in ``tongka.crypto``'s one versioned envelope.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

from tongka.config import Settings
from tongka.crypto import derive_key, keyed_hash, open_sealed, seal

__all__ = ["SECRET_DIGITS", "CardKeys", "card_keys", "derive_key", "new_secret"]

SECRET_DIGITS = 10


@dataclass(frozen=True)
class CardKeys:
    """The card part's derived keys and the operations that use them."""

    number_index_key: bytes
    number_encryption_key: bytes
    secret_hash_key: bytes
    number_permutation_key: bytes

    @classmethod
    def from_root(cls, root: bytes) -> CardKeys:
        return cls(
            number_index_key=derive_key(root, "cards.number-index.v1"),
            number_encryption_key=derive_key(root, "cards.number-encryption.v1"),
            secret_hash_key=derive_key(root, "cards.secret-hash.v1"),
            number_permutation_key=derive_key(root, "cards.number-permutation.v1"),
        )

    def number_index(self, number: str) -> str:
        """Blind index: finds a card by its exact number without storing the number."""
        return keyed_hash(self.number_index_key, number)

    def encrypt_number(self, number: str, card_id: str) -> bytes:
        """An envelope bound to the card's id (a ciphertext copied to another row won't open)."""
        return seal(self.number_encryption_key, number.encode(), context=card_id)

    def decrypt_number(self, ciphertext: bytes, card_id: str) -> str:
        """The number; ``tongka.crypto.DecryptionFailed`` (unknown version, altered, moved)."""
        return open_sealed(self.number_encryption_key, ciphertext, context=card_id).decode()

    def hash_secret(self, secret: str, card_id: str) -> str:
        """Keyed hash of a card secret, salted by the card's id (equal secrets differ)."""
        return keyed_hash(self.secret_hash_key, f"{card_id}:{secret}")

    def secret_matches(self, secret: str, card_id: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash_secret(secret, card_id), stored_hash)


def new_secret() -> str:
    """A card secret (卡密): ``SECRET_DIGITS`` digits from the operating system's CSPRNG."""
    return f"{secrets.randbelow(10**SECRET_DIGITS):0{SECRET_DIGITS}d}"


@lru_cache(maxsize=8)
def _keys_for_root(root: bytes) -> CardKeys:
    return CardKeys.from_root(root)


def card_keys(settings: Settings) -> CardKeys:
    return _keys_for_root(settings.secret_key_bytes())
