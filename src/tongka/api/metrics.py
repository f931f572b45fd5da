"""``GET /metrics``: Prometheus text format (``tongka.metrics``); not part of the public API."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tongka.edge.policy import Public
from tongka.metrics import render

router = APIRouter(include_in_schema=False)


@router.get("/metrics", dependencies=[Public("scraped by Prometheus; counters only")])
async def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
