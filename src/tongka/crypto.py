"""Key derivation, keyed hashes and authenticated encryption: the platform's one crypto module.

Why derived keys: the platform has one root secret (``settings.secret_key_bytes()``, from
configuration, never from the database). Each use gets its own key derived with HKDF-SHA256
and a stable *purpose* label (``derive_key``), so an API-key hash can never be replayed as a
session hash and each encryption key is independent of every other.

Why encryption and not a hash: some secrets are needed again in clear — a webhook signing
secret signs every delivery, a bank account number is shown masked but paid out in full, a
stored idempotent response may carry a secret shown once. They are sealed with AES-256-GCM;
the *context* (``associated_data``, e.g. the owning row's id) is authenticated too, so a
sealed value copied onto another row does not open.

One envelope, versioned. A sealed value is ``version byte || nonce (12) || ciphertext+tag``;
version 1 is AES-256-GCM as above, and it is the only version written. ``open_sealed``
checks the byte: an unknown version is ``UnknownEnvelopeVersion`` (a ``DecryptionFailed``),
never a guess. The same envelope goes in text columns as ``"v<version>:" + base64(the rest)``
(``encrypt``/``decrypt``), so the prefix is the version byte spelled out. Purposes:

- card numbers (``cards.keys``): bytes, context the card id;
- merchant settlement bank accounts (``identity.merchants``): text, context the merchant id;
- webhook signing secrets and idempotent stored responses (``SecretBox``): bytes.

``SecretBox`` values written before the version byte existed (``nonce || ciphertext``) are
still read: when the versioned reading does not verify, the unversioned one is tried (a GCM
tag cannot verify under the wrong split, so this never opens the wrong thing).

One derivation: ``derive_key(root, purpose)`` is HKDF-SHA256 with info ``tongka:<purpose>``,
except the card part's purposes, whose keys were derived as ``tongka.<purpose>`` before the
fold; their labels are kept in ``_LEGACY_LABELS`` because the stored blind indexes, secret
hashes, number permutation and ciphertexts depend on them.
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
    "ENVELOPE_VERSION",
    "DecryptionFailed",
    "SecretBox",
    "UnknownEnvelopeVersion",
    "decrypt",
    "derive_key",
    "encrypt",
    "keyed_hash",
    "open_sealed",
    "random_token",
    "seal",
]

_NONCE_BYTES = 12
ENVELOPE_VERSION = 1
# purposes derived before the labels were unified (their stored data depends on them)
_LEGACY_LABELS = {
    purpose: f"tongka.{purpose}"
    for purpose in (
        "cards.number-index.v1",
        "cards.number-encryption.v1",
        "cards.secret-hash.v1",
        "cards.number-permutation.v1",
    )
}
_TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class DecryptionFailed(Exception):
    """The ciphertext was altered, belongs to another row or purpose, or the key changed."""


class UnknownEnvelopeVersion(DecryptionFailed):
    """The envelope names a format version this code does not know."""


def derive_key(root: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose (``purpose`` is a stable label such as ``api-key-hash``)."""
    label = _LEGACY_LABELS.get(purpose, f"tongka:{purpose}")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(root)


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 as hex: how API keys and session tokens are stored and looked up."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def random_token(length: int) -> str:
    """A random alphanumeric string (about 5.95 bits per character)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


def _seal(aead: AESGCM, plaintext: bytes, context: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, context.encode())


def _open(aead: AESGCM, body: bytes, context: str) -> bytes:
    """Open ``nonce || ciphertext``; raises ``DecryptionFailed``."""
    try:
        return aead.decrypt(body[:_NONCE_BYTES], body[_NONCE_BYTES:], context.encode())
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not verify") from exc


def _check_version(version: int) -> None:
    if version != ENVELOPE_VERSION:
        raise UnknownEnvelopeVersion(
            f"unknown envelope version {version} (this code reads version {ENVELOPE_VERSION})"
        )


def seal(key: bytes, plaintext: bytes, *, context: str) -> bytes:
    """The envelope of ``plaintext`` under ``key``, bound to ``context`` (e.g. a row's id)."""
    return bytes([ENVELOPE_VERSION]) + _seal(AESGCM(key), plaintext, context)


def open_sealed(key: bytes, envelope: bytes, *, context: str) -> bytes:
    """The plaintext of an envelope; ``DecryptionFailed`` (``UnknownEnvelopeVersion``)."""
    if not envelope:
        raise DecryptionFailed("empty envelope")
    _check_version(envelope[0])
    return _open(AESGCM(key), envelope[1:], context)


class SecretBox:
    """Envelopes under the key derived from ``root_key`` for ``purpose``."""

    def __init__(self, root_key: bytes, purpose: str) -> None:
        self._key = derive_key(root_key, purpose)

    def seal(self, plaintext: bytes, *, context: str = "") -> bytes:
        return seal(self._key, plaintext, context=context)

    def open(self, sealed: bytes, *, context: str = "") -> bytes:
        """The plaintext; raises ``DecryptionFailed`` if tampered with or not ours.

        Also reads the unversioned values sealed before the version byte (see the module).
        """
        try:
            return open_sealed(self._key, sealed, context=context)
        except DecryptionFailed as versioned:
            try:
                return _open(AESGCM(self._key), sealed, context)
            except DecryptionFailed:
                raise versioned from None


def encrypt(key: bytes, plaintext: str, *, associated_data: str) -> str:
    """An envelope as text; ``associated_data`` (e.g. the row's id) binds it to its row."""
    envelope = seal(key, plaintext.encode(), context=associated_data)
    return f"v{envelope[0]}:{base64.b64encode(envelope[1:]).decode()}"


def decrypt(key: bytes, ciphertext: str, *, associated_data: str) -> str:
    prefix, _, payload = ciphertext.partition(":")
    if not (prefix.startswith("v") and prefix[1:].isdigit()) or not 0 <= int(prefix[1:]) < 256:
        raise DecryptionFailed(f"not an envelope (prefix {prefix[:8]!r})")
    try:
        body = base64.b64decode(payload, validate=True)
    except ValueError as exc:
        raise DecryptionFailed("the envelope is not valid base64") from exc
    envelope = bytes([int(prefix[1:])]) + body
    return open_sealed(key, envelope, context=associated_data).decode()
