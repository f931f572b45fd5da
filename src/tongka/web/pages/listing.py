"""Helpers the console's list-and-form pages share: a page of rows, the policy check, form posts."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from fastapi import Depends, Response
from sqlalchemy import Select

from tongka.edge.pagination import PageParams, apply_page
from tongka.identity import service as identity
from tongka.identity.models import Store
from tongka.policy import Action, authorize, scope_of
from tongka.web.console import Console, SignedInDep

PAGE_SIZE = 50


class PageRenderer(Protocol):
    def __call__(
        self, console: Console, status_code: int = 200, **context: Any
    ) -> Awaitable[Response]: ...


async def page_of(
    console: Console, statement: Select[Any], model: Any, *, created_column: Any = None
) -> tuple[list[Any], str | None]:
    """The rows of this page and the id to continue after (None on the last page).

    ``created_column`` defaults to ``model.created_at``."""
    params = PageParams(
        limit=PAGE_SIZE,
        starting_after=console.request.query_params.get("starting_after") or None,
        created_gte=None,
        created_lt=None,
    )
    created = model.created_at if created_column is None else created_column
    page = apply_page(statement, params, id_column=model.id, created_column=created)
    rows = list((await console.session.scalars(page)).all())
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].id if has_more else None)


async def render_list(
    console: Console,
    template: str,
    name: str,
    statement: Select[Any],
    model: Any,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """``template`` with one page of ``statement`` as ``name`` (and ``next_after``)."""
    rows, next_after = await page_of(console, statement, model)
    context[name] = rows
    return console.render(template, status_code=status_code, next_after=next_after, **context)


async def visible_stores(console: Console) -> list[Store]:
    """The stores the signed-in caller may pick in a form."""
    scope = scope_of(console.signed_in)
    rows, _ = await page_of(console, identity.stores_query(scope.merchant(), scope.store()), Store)
    return rows


def Allowed(action: Action) -> Any:  # noqa: N802 - reads as a type annotation
    """``console: Annotated[Console, Allowed(Action.X)]``: the signed-in caller (else the
    login page), allowed to take X (else 403) — the console's twin of ``Authorized``."""

    async def dependency(console: SignedInDep) -> Console:
        authorize(console.signed_in, action)
        return console

    dependency.policy_action = action  # type: ignore[attr-defined]
    return Depends(dependency)
