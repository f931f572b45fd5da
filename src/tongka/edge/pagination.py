"""Cursor pagination for every list endpoint: ``limit``, ``starting_after``, created-time filters.

Ids are time-ordered (``tongka.ids``), so lists are ordered newest first by id and
``starting_after`` is simply the last id of the previous page.

Created-time filters (``created_gte``, ``created_lt``) take RFC 3339 with an offset
(``2026-11-23T08:00:00+08:00``, ``...Z``); a date (``2026-11-23``) or a datetime without an
offset is read in the platform's time zone (``TONGKA_TIMEZONE``, default Asia/Shanghai), as
business dates are everywhere else. A time that has no UTC equivalent the database can store
(year 1 with a positive offset, year 9999 with a negative one) is refused with 422 naming
the parameter (``platform_instant``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from tongka.edge.deps import SettingsDep

T = TypeVar("T")
Row = TypeVar("Row")


@dataclass(frozen=True)
class PageParams:
    limit: int
    starting_after: str | None
    created_gte: datetime | None
    created_lt: datetime | None


_INSTANT_HELP = "RFC 3339; a date or a time without an offset is read in the platform's time zone."
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def platform_instant(value: datetime | None, timezone: str, *, param: str) -> datetime | None:
    """``value`` as an aware UTC instant: naive values are read in ``timezone``.

    Every datetime an edge takes from a client passes here, so none reaches a query naive
    (which SQLite and asyncpg answer with an error) or out of the storable range.
    """
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    try:
        instant = value.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or not _EARLIEST <= instant <= _LATEST:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", param),
                    "msg": f"{value.isoformat()} is out of range",
                    "input": value.isoformat(),
                }
            ]
        )
    return instant


async def page_params(
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (1–100).")] = 20,
    starting_after: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[a-z]+_[0-9a-z]+$",
            description="Id of the last object of the previous page.",
        ),
    ] = None,
    created_gte: Annotated[
        datetime | None, Query(description="Only objects created at or after. " + _INSTANT_HELP)
    ] = None,
    created_lt: Annotated[
        datetime | None, Query(description="Only objects created before. " + _INSTANT_HELP)
    ] = None,
) -> PageParams:
    return PageParams(
        limit,
        starting_after,
        platform_instant(created_gte, settings.timezone, param="created_gte"),
        platform_instant(created_lt, settings.timezone, param="created_lt"),
    )


PageParamsDep = Annotated[PageParams, Depends(page_params)]


class ListResponse(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool


def apply_page(
    statement: Select[Any],
    params: PageParams,
    *,
    id_column: InstrumentedAttribute[str],
    created_column: InstrumentedAttribute[datetime],
) -> Select[Any]:
    """Filter and order ``statement`` for one page; fetches one extra row to know ``has_more``."""
    if params.starting_after:
        statement = statement.where(id_column < params.starting_after)
    if params.created_gte:
        statement = statement.where(created_column >= params.created_gte)
    if params.created_lt:
        statement = statement.where(created_column < params.created_lt)
    return statement.order_by(id_column.desc()).limit(params.limit + 1)


def make_list_response(
    rows: Sequence[Row], params: PageParams, to_model: Callable[[Row], T]
) -> ListResponse[T]:
    return ListResponse[T](
        data=[to_model(row) for row in rows[: params.limit]],
        has_more=len(rows) > params.limit,
    )


async def fetch_page(
    session: AsyncSession,
    statement: Select[Any],
    params: PageParams,
    model: Any,
    to_model: Callable[[Any], T],
    *,
    created_column: InstrumentedAttribute[datetime] | None = None,
) -> ListResponse[T]:
    """One page of ``statement``: rows of ``model`` (which has ``id``) as ``to_model`` shows them.

    The created-time filters apply to ``created_column``, ``model.created_at`` unless named.
    """
    page = apply_page(
        statement,
        params,
        id_column=model.id,
        created_column=model.created_at if created_column is None else created_column,
    )
    rows = (await session.scalars(page)).all()
    return make_list_response(rows, params, to_model)
