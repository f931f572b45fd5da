"""Coded errors of the identity part (mapped to HTTP by ``tongka.api.errors``)."""

from __future__ import annotations

from tongka.errors import AuthenticationFailed, BusinessRuleViolation, Conflict, NotFound


class InvalidCredentials(AuthenticationFailed):
    """Wrong email or password, locked or disabled account: one message so nothing leaks."""

    code = "invalid_credentials"


class MerchantNotActive(BusinessRuleViolation):
    """Only active merchants can do business (onboarding not approved, or suspended)."""

    code = "merchant_not_active"


class IllegalTransition(BusinessRuleViolation):
    code = "illegal_status_transition"


class AlreadyExists(Conflict):
    code = "already_exists"


class ObjectNotFound(NotFound):
    code = "not_found"
