"""One error shape for every failure: ``{"error": {"type", "code", "message", "param"}}``.

No stack trace ever reaches a client: unexpected exceptions are logged with a request id
and answered with a generic 500 body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from tongka.errors import DomainError, RateLimited

log = structlog.get_logger(__name__)

HTTP_STATUS_BY_KIND = {
    "invalid_request": 400,
    "authentication_failed": 401,
    "permission_denied": 403,
    "not_found": 404,
    "conflict": 409,
    "unprocessable": 422,
    "rate_limited": 429,
    "unavailable": 503,  # incl. outcome_unknown, retry_later, ledger_contention (retry them)
}


class ErrorDetail(BaseModel):
    type: str
    code: str
    message: str
    param: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(
    status: int,
    *,
    type: str,
    code: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"type": type, "code": code, "message": message, "param": param}}
    return JSONResponse(status_code=status, content=body, headers=headers)


def _param_of(location: tuple[Any, ...]) -> str | None:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    status = HTTP_STATUS_BY_KIND.get(exc.kind, 400)
    return error_response(
        status,
        type=exc.kind,
        code=exc.code,
        message=exc.message,
        param=exc.param,
        headers=headers,
    )


@dataclass(frozen=True)
class HeaderErrors:
    """How a required header's validation failures are answered (400, not 422)."""

    header: str
    missing_code: str
    missing_message: str
    invalid_code: str
    invalid_message: str


_HEADER_ERRORS: dict[str, HeaderErrors] = {}


def register_header_errors(errors: HeaderErrors) -> None:
    _HEADER_ERRORS[errors.header.lower()] = errors


def _header_error(errors: Sequence[Any]) -> JSONResponse | None:
    for error in errors:
        location = tuple(error.get("loc", ()))
        if len(location) == 2 and location[0] == "header":
            known = _HEADER_ERRORS.get(str(location[1]).lower())
            if known is None:
                continue
            missing = error.get("type") == "missing" or not str(error.get("input", "")).strip()
            return error_response(
                400,
                type="invalid_request",
                code=known.missing_code if missing else known.invalid_code,
                message=known.missing_message if missing else known.invalid_message,
                param=known.header,
            )
    return None


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    header_response = _header_error(exc.errors())
    if header_response is not None:
        return header_response
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return error_response(
            400,
            type="invalid_request",
            code="json_invalid",
            message="The request body is not valid JSON.",
        )
    param = _param_of(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid request"))
    code = "validation_failed"
    if first.get("type") == "extra_forbidden":
        code, message = "unknown_field", "Unknown field; check the spelling."
    if param:
        message = f"{param}: {message}"
    return error_response(422, type="invalid_request", code=code, message=message, param=param)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = {
        401: "authentication_failed",
        403: "permission_denied",
        404: "not_found",
        405: "invalid_request",
        409: "conflict",
        413: "invalid_request",
        429: "rate_limited",
    }.get(exc.status_code, "invalid_request")
    code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
        exc.status_code, kind
    )
    return error_response(
        exc.status_code,
        type=kind,
        code=code,
        message=str(exc.detail),
        headers=getattr(exc, "headers", None),
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("api.unhandled_error", path=request.url.path, error=type(exc).__name__)
    return error_response(
        500,
        type="api_error",
        code="internal_error",
        message="An internal error occurred. It has been logged; please retry later.",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


# Declared on routes so the OpenAPI document lists the error shape for each status.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 422, 429, 503)
}
