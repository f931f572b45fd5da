"""``GET /metrics``: Prometheus text format (``tongka.metrics``); not part of the public API."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tongka.metrics import render

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
