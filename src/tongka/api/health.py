"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from tongka import __version__
from tongka.edge.deps import DatabaseDep
from tongka.edge.policy import Public

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get(
    "/v1/health",
    response_model=Health,
    summary="Is the service up and its database reachable?",
    dependencies=[Public("load balancers and monitors")],
)
async def health(database: DatabaseDep) -> Health:
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=database.dialect)
