"""Who may do what: one table of named actions, one ``authorize``, one ``Scope``.

Every API route, console page and CLI command names the action it takes; ``authorize``
looks the caller up in ``TABLE`` and answers the ``Scope`` the action runs in (or raises
``PermissionDenied``, 403, naming the action). See docs/decisions/0007-roles-and-policy.md.
"""

from tongka.policy.authorize import Scope, allowed, authorize, scope_of
from tongka.policy.table import CARD_LIFECYCLE, PLATFORM_ROLES, TABLE, Action, Grant

__all__ = [
    "CARD_LIFECYCLE",
    "PLATFORM_ROLES",
    "TABLE",
    "Action",
    "Grant",
    "Scope",
    "allowed",
    "authorize",
    "scope_of",
]
