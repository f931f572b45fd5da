"""One error code's wording (``error_registry`` and ``error_registry_money`` hold them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    text: str
    bare: str | None = None
    # legacy details keeping an amount as a bare int beside details["currency"]
    amounts: tuple[str, ...] = ()
    # parameter -> its words' group (error_words.WORDS), beyond PARAMETER_GROUPS
    groups: Mapping[str, str] = field(default_factory=dict)


M = Message
