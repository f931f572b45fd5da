"""Building blocks every router's request and response models share.

- ``RequestModel``: the base of every request body. Unknown fields are refused (422
  ``unknown_field`` naming the field) so a typo such as ``amout`` never silently does nothing.
- ``ResponseModel``: the base of response bodies (reads ORM objects by attribute).
- ``MoneyModel`` (from ``tongka.money``, re-exported here): money in JSON — integer minor
  units plus an ISO 4217 currency, ``{"amount": 12345, "currency": "CNY"}``, never a float.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tongka.money import MoneyModel

__all__ = ["MoneyModel", "RequestModel", "ResponseModel"]


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are an error, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(from_attributes=True)
