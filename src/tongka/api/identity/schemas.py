"""Shapes and helpers shared by the identity endpoints."""

from __future__ import annotations

from typing import Any, Self

from tongka.edge.pagination import fetch_page
from tongka.edge.schemas import ObjectId, RequestModel, ResponseModel
from tongka.edge.scoping import visible_to

# The request base (unknown fields and NUL characters refused), page fetcher and scope check
# live in tongka.edge (the console uses them too); re-exported for the identity routers.
__all__ = ["ObjectId", "RequestModel", "RowOut", "fetch_page", "visible_to"]


class RowOut(ResponseModel):
    """A response whose fields are the ORM row's attributes of the same names."""

    @classmethod
    def of(cls, row: Any) -> Self:
        return cls.model_validate(row)
