"""Key derivation, keyed hashes and authenticated encryption: the platform's one crypto module.

Why derived keys: the platform has one root secret (``settings.secret_key_bytes()``, from
configuration, never from the database). Each use gets its own key derived with HKDF-SHA256
and a stable *purpose* label (``derive_key``), so an API-key hash can never be replayed as a
session hash and each encryption key is independent of every other.

Why encryption and not a hash: some secrets are needed again in clear — a webhook signing
secret signs every delivery, a bank account number is shown masked but paid out in full, a
stored idempotent response may carry a secret shown once. They are sealed with AES-256-GCM;
the *context* (``associated_data``, e.g. the owning row's id) is authenticated too, so a
sealed value copied onto another row does not open. Two wrappings of the same sealed bytes
(``nonce || ciphertext-and-tag``) exist, and both formats are stored in databases already:

- ``SecretBox(root, purpose).seal/open``: raw bytes (``LargeBinary`` columns);
- ``encrypt/decrypt(key, ...)``: text, ``"v1:" + base64(...)`` (string columns).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "DecryptionFailed",
    "SecretBox",
    "decrypt",
    "derive_key",
    "encrypt",
    "keyed_hash",
    "random_token",
]

_NONCE_BYTES = 12
_CIPHERTEXT_VERSION = "v1"
_TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class DecryptionFailed(Exception):
    """The ciphertext was altered, belongs to another row, or the key changed."""


def derive_key(root: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose (``purpose`` is a stable label such as ``api-key-hash``)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"tongka:{purpose}".encode()
    ).derive(root)


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 as hex: how API keys and session tokens are stored and looked up."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def random_token(length: int) -> str:
    """A random alphanumeric string (about 5.95 bits per character)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


def _seal(aead: AESGCM, plaintext: bytes, context: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, context.encode())


def _open(aead: AESGCM, sealed: bytes, context: str) -> bytes:
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    return aead.decrypt(nonce, ciphertext, context.encode())


class SecretBox:
    """AES-256-GCM under the key derived from ``root_key`` for ``purpose``."""

    def __init__(self, root_key: bytes, purpose: str) -> None:
        self._aead = AESGCM(derive_key(root_key, purpose))

    def seal(self, plaintext: bytes, *, context: str = "") -> bytes:
        return _seal(self._aead, plaintext, context)

    def open(self, sealed: bytes, *, context: str = "") -> bytes:
        """The plaintext; raises ``cryptography.exceptions.InvalidTag`` if tampered with."""
        return _open(self._aead, sealed, context)


def encrypt(key: bytes, plaintext: str, *, associated_data: str) -> str:
    """AES-256-GCM as text; ``associated_data`` (e.g. the row's id) binds it to its row."""
    sealed = _seal(AESGCM(key), plaintext.encode(), associated_data)
    return f"{_CIPHERTEXT_VERSION}:{base64.b64encode(sealed).decode()}"


def decrypt(key: bytes, ciphertext: str, *, associated_data: str) -> str:
    version, _, payload = ciphertext.partition(":")
    if version != _CIPHERTEXT_VERSION:
        raise DecryptionFailed(f"unknown ciphertext version {version!r}")
    try:
        plain = _open(AESGCM(key), base64.b64decode(payload), associated_data)
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not verify") from exc
    return plain.decode()
