"""Shapes shared by the identity endpoints, and the page-fetching helper they all use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.api.errors import ERROR_RESPONSES, ErrorBody
from tongka.api.pagination import ListResponse, PageParams, apply_page, make_list_response

T = TypeVar("T")

# Every identity route may also answer 403 (wrong kind of caller or missing role).
RESPONSES: dict[int | str, dict[str, Any]] = {**ERROR_RESPONSES, 403: {"model": ErrorBody}}


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields (422 naming the field)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
