"""Who is on the other end of a request, for scoping idempotency keys and rate limits.

A caller with ``Authorization: Bearer <key>`` is identified by a SHA-256 hash of the key (the
key itself is never stored or logged), a console user by a hash of the session cookie, and
anyone else by the client IP address. Behind a
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


SESSION_COOKIE = "tongka_session"  # the console's session cookie (tongka.edge.auth)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def caller_identity(request: Request) -> str:
    """``key:<sha256 of the token>``, ``session:<sha256 of the cookie>`` or ``ip:<address>``."""
    token = bearer_token(request)
    if token is not None:
        return "key:" + _digest(token)
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        return "session:" + _digest(session_token)
    return "ip:" + client_address(request)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
