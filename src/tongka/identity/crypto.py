"""The keys identity derives from the root secret, one per purpose (see ``tongka.crypto``).

The primitives (``derive_key``, ``keyed_hash``, ``encrypt`` ...) live in ``tongka.crypto``;
they are re-exported here so existing imports keep working. The purpose labels below are
part of the stored data: changing one makes what was hashed or sealed under it unreadable.
"""

from __future__ import annotations

from dataclasses import dataclass

from tongka.config import Settings
from tongka.crypto import (
    DecryptionFailed,
    decrypt,
    derive_key,
    encrypt,
    keyed_hash,
    random_token,
)

__all__ = [
    "DecryptionFailed",
    "IdentityKeys",
    "decrypt",
    "derive_key",
    "encrypt",
    "keyed_hash",
    "random_token",
]


@dataclass(frozen=True)
class IdentityKeys:
    """The keys identity needs, each derived from the root secret for one purpose."""

    api_key_hash: bytes
    session_hash: bytes
    csrf: bytes
    bank_account: bytes
    demo: bytes
    login_code: bytes
    application_pass: bytes

    @classmethod
    def from_root(cls, root: bytes) -> IdentityKeys:
        return cls(
            api_key_hash=derive_key(root, "api-key-hash"),
            session_hash=derive_key(root, "console-session-hash"),
            csrf=derive_key(root, "console-csrf"),
            bank_account=derive_key(root, "merchant-bank-account"),
            demo=derive_key(root, "demo-credentials"),
            login_code=derive_key(root, "consumer-login-code"),
            application_pass=derive_key(root, "merchant-application-pass"),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityKeys:
        return cls.from_root(settings.secret_key_bytes())
