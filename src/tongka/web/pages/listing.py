"""Helpers the console's pages share: the policy check (``Allowed``) and form posts.

Lists are ``tongka.web.lists.ListSpec``s (see web/README.md, "Lists")."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from fastapi import Depends, Response

from tongka.policy import Action, authorize
from tongka.web.console import Console, SignedInDep


class PageRenderer(Protocol):
    def __call__(
        self, console: Console, status_code: int = 200, **context: Any
    ) -> Awaitable[Response]: ...


def Allowed(action: Action) -> Any:  # noqa: N802 - reads as a type annotation
    """``console: Annotated[Console, Allowed(Action.X)]``: the signed-in caller (else the
    login page), allowed to take X (else 403) — the console's twin of ``Authorized``."""

    async def dependency(console: SignedInDep) -> Console:
        authorize(console.signed_in, action)
        return console

    dependency.policy_action = action  # type: ignore[attr-defined]
    return Depends(dependency)
