"""Webhook signatures: ``Tongka-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The signed message is ``"<t>.<raw body>"`` with the endpoint's secret (``whsec_...``) as the
key. The timestamp is signed too, so a captured delivery cannot be replayed later than the
receiver's tolerance. During a secret rotation the header carries one ``v1=`` per valid
secret; a receiver accepts the delivery if any of them matches its secret.

This module has no dependency beyond the standard library: merchants may copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Tongka-Signature"
SCHEME = "v1"


class WebhookSignatureError(ValueError):
    """The delivery is not authentic or too old; answer it with 400 and do not process it."""


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """The header value for ``payload`` signed with every currently valid secret."""
    signatures = [f"{SCHEME}={compute_signature(payload, secret, timestamp)}" for secret in secrets]
    return ",".join([f"t={timestamp}", *signatures])


def verify_signature(
    payload: bytes,
    header: str,
    secret: str,
    tolerance_seconds: int = 300,
    *,
    now: float | None = None,
) -> None:
    """Check a delivery's ``Tongka-Signature`` header; raise ``WebhookSignatureError`` if bad.

    ``payload`` must be the raw request body exactly as received (before any JSON parsing).
    Deliveries whose timestamp is more than ``tolerance_seconds`` away from now are refused,
    so a recorded delivery cannot be replayed later.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookSignatureError("malformed Tongka-Signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookSignatureError("timestamp outside the tolerance")
    expected = compute_signature(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise WebhookSignatureError("no signature matches the secret")
