"""Helpers the console's pages share: the policy check (``Allowed``) and form posts.

Lists are ``tongka.web.lists.ListSpec``s (see web/README.md, "Lists")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import Depends, Response

from tongka.policy import Action, authorize
from tongka.web.console import Console, SignedInDep


class PageRenderer(Protocol):
    def __call__(
        self, console: Console, status_code: int = 200, **context: Any
    ) -> Awaitable[Response]: ...


async def submit(
    console: Console,
    work: Callable[[], Awaitable[object]],
    *,
    success_url: str,
    form_page: PageRenderer,
) -> Response:
    """Run a form's service call (in a savepoint); on a domain error show the form page
    again with the message (400), else redirect to ``success_url``."""
    _, error = await console.attempt(work)
    if error:
        return await form_page(console, 400, error=error)
    return console.redirect(success_url)


async def show_secret_once(
    console: Console, work: Callable[[], Awaitable[object]], *, page: PageRenderer
) -> Response:
    """Run a form's service call that makes a secret (in a savepoint): show ``page`` with the
    result as ``created`` (201; the page shows its secret this once), or with the error (400)."""
    created, error = await console.attempt(work)
    if error or created is None:
        return await page(console, 400, error=error)
    return await page(console, 201, created=created)


def Allowed(action: Action) -> Any:  # noqa: N802 - reads as a type annotation
    """``console: Annotated[Console, Allowed(Action.X)]``: the signed-in caller (else the
    login page), allowed to take X (else 403) — the console's twin of ``Authorized``."""

    async def dependency(console: SignedInDep) -> Console:
        authorize(console.signed_in, action)
        return console

    dependency.policy_action = action  # type: ignore[attr-defined]
    return Depends(dependency)
