"""Authenticated encryption of secrets the platform must read back (AES-256-GCM).

Why not a hash: some secrets are needed again in clear — a webhook signing secret signs every
delivery, a stored idempotent response may carry a secret shown once. They are sealed with a
key derived (HKDF-SHA256) from the platform's root secret and a *purpose*, so each use has its
own key and a database dump alone reveals nothing. ``context`` (e.g. the owning row's id) is
authenticated too: a sealed value copied onto another row does not open.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


class SecretBox:
    def __init__(self, root_key: bytes, purpose: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"tongka:{purpose}".encode()
        ).derive(root_key)
        self._aead = AESGCM(derived)

    def seal(self, plaintext: bytes, *, context: str = "") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, *, context: str = "") -> bytes:
        """The plaintext; raises ``cryptography.exceptions.InvalidTag`` if tampered with."""
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, context.encode())
