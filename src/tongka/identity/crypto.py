"""Key derivation, keyed hashes and authenticated encryption for identity secrets.

Why derived keys: the platform has one root secret (``settings.secret_key_bytes()``, from
configuration, never from the database). Each use gets its own key derived with HKDF and a
purpose label, so an API-key hash can never be replayed as a session hash and the
encryption key for bank accounts is independent of both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tongka.config import Settings

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


def encrypt(key: bytes, plaintext: str, *, associated_data: str) -> str:
    """AES-256-GCM; ``associated_data`` (e.g. the row's id) binds the ciphertext to its row."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), associated_data.encode())
    return f"{_CIPHERTEXT_VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(key: bytes, ciphertext: str, *, associated_data: str) -> str:
    version, _, payload = ciphertext.partition(":")
    if version != _CIPHERTEXT_VERSION:
        raise DecryptionFailed(f"unknown ciphertext version {version!r}")
    raw = base64.b64decode(payload)
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], associated_data.encode())
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not verify") from exc
    return plain.decode()


@dataclass(frozen=True)
class IdentityKeys:
    """The keys identity needs, each derived from the root secret for one purpose."""

    api_key_hash: bytes
    session_hash: bytes
    csrf: bytes
    bank_account: bytes
    demo: bytes
    login_code: bytes

    @classmethod
    def from_root(cls, root: bytes) -> IdentityKeys:
        return cls(
            api_key_hash=derive_key(root, "api-key-hash"),
            session_hash=derive_key(root, "console-session-hash"),
            csrf=derive_key(root, "console-csrf"),
            bank_account=derive_key(root, "merchant-bank-account"),
            demo=derive_key(root, "demo-credentials"),
            login_code=derive_key(root, "consumer-login-code"),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityKeys:
        return cls.from_root(settings.secret_key_bytes())
