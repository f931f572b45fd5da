"""Building blocks every router's request and response models share.

- ``RequestModel``: the base of every request body. Unknown fields are refused (422
  ``unknown_field`` naming the field) so a typo such as ``amout`` never silently does nothing;
  strings are stripped and may not contain NUL characters (PostgreSQL cannot store them).
- ``ResponseModel``: the base of response bodies (reads ORM objects by attribute).
- ``ObjectId``: a path parameter holding a prefixed id (``card_01j...``); anything else is
  refused with 422 before it reaches a query.
- ``MoneyModel`` (from ``tongka.money``, re-exported here): money in JSON — integer minor
  units plus an ISO 4217 currency, ``{"amount": 12345, "currency": "CNY"}``, never a float.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, field_validator

from tongka.money import MoneyModel

__all__ = ["ID_PATTERN", "MoneyModel", "ObjectId", "RequestModel", "ResponseModel"]

ID_PATTERN = r"^[a-z]{2,8}_[0-9a-z]{1,40}$"
ObjectId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN, examples=["mch_01j9z3k4"])]


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are an error, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


class ResponseModel(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(from_attributes=True)
