"""Who is on the other end of a request, for scoping idempotency keys and rate limits.

A caller with ``Authorization: Bearer <key>`` is identified by a SHA-256 hash of the key (the
key itself is never stored or logged); anyone else by the client IP address. Behind a
proxy, run uvicorn with ``--proxy-headers --forwarded-allow-ips=<proxy>`` so the address is
the client's, not the proxy's.
"""

from __future__ import annotations

import hashlib

from fastapi import Request


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def caller_identity(request: Request) -> str:
    """``key:<sha256 of the bearer token>`` or ``ip:<client address>``."""
    token = bearer_token(request)
    if token is not None:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()
    return "ip:" + client_address(request)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
