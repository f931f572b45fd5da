"""Shapes shared by the identity endpoints, and the page-fetching helper they all use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.pagination import ListResponse, PageParams, apply_page, make_list_response
from tongka.api.schemas import ObjectId, RequestModel

T = TypeVar("T")

# The shared error responses (400/401/403/404/409/422/429) and request base (unknown fields
# and NUL characters refused), under the names the identity routers use.
RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES
__all__ = ["RESPONSES", "ObjectId", "RequestModel", "fetch_page"]


async def fetch_page(
    session: AsyncSession,
    statement: Select[Any],
    params: PageParams,
    model: Any,
    to_model: Callable[[Any], T],
) -> ListResponse[T]:
    """One page of ``statement`` (rows of ``model``, which has ``id`` and ``created_at``)."""
    page = apply_page(statement, params, id_column=model.id, created_column=model.created_at)
    rows = (await session.scalars(page)).all()
    return make_list_response(rows, params, to_model)
