"""Who is on the other end of a request, for scoping idempotency keys and rate limits.

Two views of the caller, on purpose different:

- ``presented_credential``: what the request *claims* — ``key:<sha256 of the bearer token>``
  or ``session:<sha256 of the session cookie>`` — or None. Anyone can send any header, so a
  claim alone never earns a key's rate-limit bucket (``tongka.api.rate_limits``).
- ``mark_authenticated``: called by ``tongka.edge.auth`` once a credential has really been
  verified; the rate limiter remembers that credential as verified for a few minutes.
- ``caller_identity``: the claimed credential, else ``ip:<address>``: the scope of
  idempotency keys. That is safe because an authenticated route runs its handler (and so
  stores a key) only after the credential was verified, and on a public route a made-up
  credential only opens a namespace of its own.

The key or cookie itself is never stored or logged, only its SHA-256. The client address is
the socket peer's; ``X-Forwarded-For`` counts only from the proxies named in
``TONGKA_TRUSTED_PROXIES`` (``tongka serve`` passes them to uvicorn).
"""

from __future__ import annotations

import hashlib

from fastapi import Request

AUTHENTICATED_STATE = "authenticated_credential"


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


SESSION_COOKIE = "tongka_session"  # the console's session cookie (tongka.edge.auth)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def presented_credential(request: Request) -> str | None:
    """``key:<sha256>`` / ``session:<sha256>`` for the credential sent (verified or not)."""
    token = bearer_token(request)
    if token is not None:
        return "key:" + _digest(token)
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        return "session:" + _digest(session_token)
    return None


def caller_identity(request: Request) -> str:
    """The idempotency scope: ``presented_credential``, else ``ip:<address>``."""
    return presented_credential(request) or "ip:" + client_address(request)


def mark_authenticated(request: Request) -> None:
    """Record that this request's credential was verified (read by the rate limiter)."""
    setattr(request.state, AUTHENTICATED_STATE, presented_credential(request))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
