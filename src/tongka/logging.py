"""Structured logs (structlog). Secrets and full card numbers never go into a log line."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

_PAN = re.compile(r"\b(\d{6})\d{6,9}(\d{4})\b")
_SENSITIVE_KEYS = {"password", "secret", "card_secret", "api_key", "authorization", "token"}


def _redact(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Last line of defence: drop sensitive keys and mask anything shaped like a card number."""
    for key in list(event):
        if key.lower() in _SENSITIVE_KEYS:
            event[key] = "[redacted]"
        elif isinstance(event[key], str):
            event[key] = _PAN.sub(r"\1******\2", event[key])
    return event


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
