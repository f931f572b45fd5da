"""``tongka sandbox-gateway``: the sandbox payment gateway (WeChat Pay, Alipay, UnionPay and
the reserve bank played on 127.0.0.1; see ``tongka.payments.sandbox.app``)."""

from __future__ import annotations

import typer
import uvicorn

from tongka.cli.common import console
from tongka.config import get_settings
from tongka.payments.sandbox.app import create_gateway


def register(app: typer.Typer) -> None:
    app.command("sandbox-gateway")(sandbox_gateway)


def sandbox_gateway(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8100, help="Port to listen on (settings.sandbox_gateway_url)."),
) -> None:
    """Serve the sandbox payment gateway; keys are shared with the API via the data dir."""
    settings = get_settings()
    if settings.environment == "production":
        raise typer.BadParameter("the sandbox gateway does not run in production")
    gateway = create_gateway(settings)
    console.print(f"Sandbox payment gateway on http://{host}:{port}  (payer pages: /pay/…)")
    uvicorn.run(gateway, host=host, port=port, log_level=settings.log_level.lower())
