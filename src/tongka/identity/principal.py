"""The authenticated caller, as every service and endpoint sees it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PrincipalKind(enum.StrEnum):
    PLATFORM = "platform"
    MERCHANT = "merchant"
    CONSUMER = "consumer"


@dataclass(frozen=True)
class Principal:
    """Who is acting. ``actor`` names them in events and logs (never a secret).

    ``merchant_id`` is set for merchant callers and is the wall every query is scoped by;
    ``store_id`` narrows a cashier key or user to one store.
    """

    kind: PrincipalKind
    actor: str
    roles: frozenset[str]
    merchant_id: str | None = None
    store_id: str | None = None
    consumer_id: str | None = None

    @property
    def is_platform(self) -> bool:
        return self.kind is PrincipalKind.PLATFORM

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


# A role grants the roles it implies: an admin may do what finance, risk and support may; a
# merchant admin (and a ``full`` API key) may do what a cashier may. ``tongka.policy``
# checks the expanded set, so its table names the least role needed.
ROLE_IMPLIES: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "finance", "risk", "support"}),
    "merchant_admin": frozenset({"merchant_admin", "full", "cashier"}),
    "full": frozenset({"merchant_admin", "full", "cashier"}),
}


def expand_role(role: str) -> frozenset[str]:
    """Every role ``role`` grants, itself included."""
    return ROLE_IMPLIES.get(role, frozenset({role}))


SYSTEM = Principal(kind=PrincipalKind.PLATFORM, actor="system", roles=frozenset({"admin"}))
