from __future__ import annotations

import httpx

from tongka.api.app import create_app
from tongka.config import Settings
from tongka.db import Database


async def test_health_reports_database(settings: Settings, database: Database) -> None:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/v1/health")
    assert response.status_code == 200
    assert response.json()["database"] == database.dialect


async def test_unknown_route_uses_error_shape(
    settings: Settings, sqlite_database: Database
) -> None:
    app = create_app(settings, database=sqlite_database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/v1/nothing_here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
