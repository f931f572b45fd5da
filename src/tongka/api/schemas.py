"""Building blocks every router's request and response models share.

- ``RequestModel``: the base of every request body. Unknown fields are refused (422
  ``unknown_field`` naming the field) so a typo such as ``amout`` never silently does nothing.
- ``ResponseModel``: the base of response bodies (ignores nothing, adds nothing; exists so
  later conventions land in one place).
- ``MoneyAmount``: money in JSON — integer minor units plus an ISO 4217 currency, never a float.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are an error, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(from_attributes=True)


class MoneyAmount(BaseModel):
    """An amount of money: ``{"amount": 12345, "currency": "CNY"}`` is ¥123.45."""

    model_config = ConfigDict(extra="forbid")

    amount: int = Field(description="Integer minor units (fen for CNY).")
    currency: str = Field(
        min_length=3, max_length=3, pattern="^[A-Z]{3}$", description="ISO 4217 code."
    )
