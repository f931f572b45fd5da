"""Typed, coded domain errors (STYLE habit 6).

Domain code raises these; the API maps ``kind`` to an HTTP status and renders the one error
body ``{"error": {"type", "code", "message", "param"}}``; the CLI prints the message.
``details`` carry the parameters (amounts in minor units with their currency, aware
datetimes, codes of rules and statuses) so the console can word the error for people in
its languages (``tongka.web.error_messages``); the API body does not include them.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a caller can act on. ``code`` is stable; ``message`` is for people."""

    kind: ClassVar[str] = "invalid_request"
    code: str = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.details = details or {}


class InvalidRequest(DomainError):
    kind = "invalid_request"
    code = "invalid_request"


class NotFound(DomainError):
    kind = "not_found"
    code = "not_found"


class Conflict(DomainError):
    kind = "conflict"
    code = "conflict"


class PermissionDenied(DomainError):
    kind = "permission_denied"
    code = "permission_denied"


class AuthenticationFailed(DomainError):
    kind = "authentication_failed"
    code = "authentication_failed"


class RateLimited(DomainError):
    kind = "rate_limited"
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_seconds = retry_after_seconds


class BusinessRuleViolation(DomainError):
    """A well-formed request the rules refuse (insufficient funds, illegal transition...)."""

    kind = "unprocessable"
    code = "business_rule_violation"


class ServiceUnavailable(DomainError):
    """Something the request needs is not configured or reachable (e.g. no SMS sender)."""

    kind = "unavailable"
    code = "service_unavailable"


def amount_detail(minor_units: int, currency: str) -> dict[str, Any]:
    """An amount for ``details``: integer minor units with their currency (as the API's JSON),
    so whoever shows the error can format it for people (``¥550.00``)."""
    return {"amount": minor_units, "currency": currency}
