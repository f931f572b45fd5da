"""Keys and keyed primitives for card numbers and secrets (see docs/decisions/0004).

Every key is derived with HKDF-SHA256 from the platform's root secret
(``Settings.secret_key_bytes()``) under its own purpose label, so a leak of one derived key
(say the blind-index key) reveals nothing about the others, and the database holds none.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tongka.config import Settings

SECRET_DIGITS = 10
NONCE_BYTES = 12
KEY_VERSION = b"\x01"


def derive_key(root: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"tongka.{purpose}".encode()
    ).derive(root)


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
        return hmac.new(self.number_index_key, number.encode(), hashlib.sha256).hexdigest()

    def encrypt_number(self, number: str, card_id: str) -> bytes:
        """AES-GCM, bound to the card's id (a ciphertext copied to another row won't open)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.number_encryption_key).encrypt(
            nonce, number.encode(), card_id.encode()
        )
        return KEY_VERSION + nonce + sealed

    def decrypt_number(self, ciphertext: bytes, card_id: str) -> str:
        nonce = ciphertext[1 : 1 + NONCE_BYTES]
        sealed = ciphertext[1 + NONCE_BYTES :]
        return AESGCM(self.number_encryption_key).decrypt(nonce, sealed, card_id.encode()).decode()

    def hash_secret(self, secret: str, card_id: str) -> str:
        """Keyed hash of a card secret, salted by the card's id (equal secrets differ)."""
        message = f"{card_id}:{secret}".encode()
        return hmac.new(self.secret_hash_key, message, hashlib.sha256).hexdigest()

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
