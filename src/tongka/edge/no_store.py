"""``Cache-Control: no-store`` on every response that carries a secret, decided in one place.

A full card number, a card secret, an API key or a webhook signing secret is shown once; no
browser, proxy or CDN may keep a copy. Rather than each route remembering a header:

- API response models mark such fields with ``SecretField(...)`` (a ``Field`` whose
  OpenAPI schema says ``"x-secret": true``); any route whose response model contains one,
  at any depth, is a secret route.
- Console routes that can render a secret are marked with ``@shows_secret`` (the pages
  cannot be told apart by a response model: they answer HTML).
- ``NoStoreMiddleware`` adds ``Cache-Control: no-store`` to every response of a secret
  route — including idempotent replays and error answers — after routing has chosen the
  route (``scope["route"]``).

``tests/integration/test_no_store.py`` walks the OpenAPI document: every response schema
with an ``x-secret`` property (and every property named like a secret is required to be
marked) must come back with ``no-store``.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECRET_MARKER = "x-secret"
F = TypeVar("F", bound=Callable[..., Any])


def SecretField(*, description: str, **kwargs: Any) -> Any:  # noqa: N802 (reads like Field)
    """A response field holding a secret shown once: its route is never cached."""
    return Field(description=description, json_schema_extra={SECRET_MARKER: True}, **kwargs)


def shows_secret(endpoint: F) -> F:
    """Mark a console endpoint whose page may show a secret."""
    endpoint.carries_secret = True  # type: ignore[attr-defined]
    return endpoint


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType, list, tuple, dict) or get_args(
        annotation
    ):
        return [model for arg in get_args(annotation) for model in _models_in(arg)]
    return []


def model_carries_secret(model: Any, seen: frozenset[type] = frozenset()) -> bool:
    """True if any field of ``model`` (or of a model nested in it) is a ``SecretField``."""
    for candidate in _models_in(model):
        if candidate in seen:
            continue
        for field in candidate.model_fields.values():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and extra.get(SECRET_MARKER):
                return True
            if model_carries_secret(field.annotation, seen | {candidate}):
                return True
    return False


def route_carries_secret(route: Any) -> bool:
    cached = getattr(route, "_tongka_carries_secret", None)
    if cached is None:
        endpoint = getattr(route, "endpoint", None)
        cached = bool(getattr(endpoint, "carries_secret", False)) or model_carries_secret(
            getattr(route, "response_model", None)
        )
        route._tongka_carries_secret = cached
    return bool(cached)


class NoStoreMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                if route is not None and route_carries_secret(route):
                    headers = MutableHeaders(scope=message)
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_header)
