"""Shapes shared by the identity endpoints, under the names the identity routers use."""

from __future__ import annotations

from typing import Any

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.pagination import fetch_page
from tongka.api.schemas import ObjectId, RequestModel

# The shared error responses (400/401/403/404/409/422/429), request base (unknown fields
# and NUL characters refused) and page fetcher, under the names the identity routers use.
RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES
__all__ = ["RESPONSES", "ObjectId", "RequestModel", "fetch_page"]
