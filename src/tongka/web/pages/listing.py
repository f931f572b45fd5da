"""One page of a list for console tables (newest first, "next page" by ``starting_after``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from tongka.api.pagination import PageParams, apply_page
from tongka.errors import PermissionDenied
from tongka.identity.principal import Principal
from tongka.web.console import Console

PAGE_SIZE = 50


async def page_of(
    console: Console, statement: Select[Any], model: Any
) -> tuple[list[Any], str | None]:
    """The rows of this page and the id to continue after (None on the last page)."""
    params = PageParams(
        limit=PAGE_SIZE,
        starting_after=console.request.query_params.get("starting_after") or None,
        created_gte=None,
        created_lt=None,
    )
    page = apply_page(statement, params, id_column=model.id, created_column=model.created_at)
    rows = list((await console.session.scalars(page)).all())
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].id if has_more else None)


def require_role(principal: Principal, *roles: str) -> None:
    if not principal.has_role(*roles):
        raise PermissionDenied(f"Requires one of the roles: {', '.join(roles)}.")


def require_platform_admin(principal: Principal) -> None:
    if not principal.is_platform:
        raise PermissionDenied("This page is for platform operators.")
    require_role(principal, "admin")
