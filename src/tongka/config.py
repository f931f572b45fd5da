"""Configuration from the environment (``TONGKA_*``), with safe development defaults.

Why one object: every entry point (API, worker, CLI, tests) builds its settings the same
way, so a value set in the environment means the same thing everywhere.
"""

from __future__ import annotations

import secrets
import sys
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(RuntimeError):
    """The configuration cannot be used (e.g. production mode without a secret key)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TONGKA_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file tongka.db in the data directory.",
    )
    timezone: str = "Asia/Shanghai"
    secret_key: str | None = Field(
        default=None,
        description="Key material for keyed hashes, cookies and encryption (hex, >= 32 bytes).",
    )
    redis_url: str | None = None
    log_level: str = "INFO"
    seal_interval_seconds: float = 1.0
    run_worker_in_process: bool = Field(
        default=False, description="Run the background worker inside the API process (make run)."
    )
    max_request_body_bytes: int = Field(
        default=1_048_576, description="Larger request bodies are refused with 413."
    )
    max_statement_upload_bytes: int = Field(
        default=1_073_741_824,
        description=(
            "The limit of an uploaded statement file (the reconciliation statement routes: "
            "streamed to a temporary file, so it bounds disk, not memory); 1 GiB holds a "
            "day of a million channel statement lines."
        ),
    )
    rate_limit_per_key: str = Field(
        default="100/second;3000/minute",
        description="Requests allowed per API key (``limits`` notation, ';'-separated).",
    )
    rate_limit_per_ip: str = Field(
        default="20/second;600/minute",
        description="Requests allowed per client IP on public (unauthenticated) endpoints.",
    )
    webhook_timeout_seconds: float = 10.0
    trusted_proxies: str = Field(
        default="",
        description=(
            "Comma-separated proxy addresses or CIDR ranges whose X-Forwarded-For is believed "
            "(``tongka serve`` passes them to uvicorn); empty: the header is ignored."
        ),
    )
    currencies: str = Field(
        default="CNY",
        description="Comma-separated ISO 4217 codes the platform accepts (tongka.money).",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Let webhooks reach 127.0.0.1/::1/localhost (local receivers in tests and "
        "development); ignored in production. Private, link-local and metadata addresses are "
        "refused whatever this says.",
    )
    redemption_fee_rate: Decimal = Field(
        default=Decimal("0.006"),
        description="The platform's default fee on a redemption (a fraction, ROUND_HALF_UP); "
        "settlement contracts replace it.",
    )
    redemption_hold_seconds: int = Field(
        default=1800, ge=1, description="How long an uncaptured authorization holds value."
    )
    coalesce_max_members: int = Field(
        default=32,
        ge=1,
        description="PostgreSQL: at most this many concurrent redemptions of one process share "
        "a database transaction (each in its own savepoint); 1 turns the sharing off.",
    )
    coalesce_lanes: int = Field(
        default=4,
        ge=1,
        description="PostgreSQL: shared redemption transactions one process runs side by side.",
    )
    redemption_fast_path: bool = Field(
        default=True,
        description="PostgreSQL: a plain one-card redemption runs as hand-written statements "
        "(``tongka.redemption.fast_path``); false: always the ORM path.",
    )
    redemption_lane_members: int = Field(
        default=64,
        ge=0,
        description="PostgreSQL: concurrent plain redemptions of one process are answered "
        "together, up to this many per database transaction (``tongka.api.redemption_lane``); "
        "0 turns the lane off (every request takes the usual path).",
    )
    redemption_lane_batches: int = Field(
        default=1,
        ge=1,
        description="PostgreSQL: lane batches one process runs side by side. One is fastest "
        "on a small machine: requests arriving while it runs make the next batch larger, and "
        "a larger batch costs less per request.",
    )

    sandbox_gateway_url: str = Field(
        default="http://127.0.0.1:8100",
        description="Base URL of the sandbox payment gateway (``tongka sandbox-gateway``).",
    )
    payout_channel: Literal["http", "file"] = Field(
        default="http",
        description=(
            "How settlement pays merchants: http (one request per payout to the bank's "
            "payout desk, /bank/payouts) or file (the day's payouts in one bank batch "
            "payment file, 批量代付文件: tongka settlement payout-file / payout-results)."
        ),
    )
    payments_notify_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Our public base URL the channels send notifications to "
        "(``<this>/v1/channels/<name>/notify``).",
    )
    payments_circuit_failures: int = Field(
        default=5, ge=1, description="Consecutive channel errors that open its circuit."
    )
    payments_circuit_cooldown_seconds: int = Field(
        default=60, ge=1, description="How long an open circuit skips its channel."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the public reaches this platform (links and QR codes printed on "
        "receipts point here), without a trailing slash.",
    )
    receipt_check_rate_limit: str = Field(
        default="30 per 10 minutes",
        description="Receipt checks by code allowed per client address (API and console "
        "together; ``limits`` notation, ';'-separated), like the balance inquiry's budget.",
    )
    order_expiry_seconds: int = Field(
        default=900,
        ge=60,
        description="An order unpaid this long expires (its payment is polled first).",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tongka.db').as_posix()}"

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def secret_key_bytes(self) -> bytes:
        """The platform's root secret.

        Production refuses to start without ``TONGKA_SECRET_KEY``; a development machine gets
        one generated once into the data directory (with a warning), so restarts keep working
        card secrets and sessions.
        """
        if self.secret_key:
            return _decode_key(self.secret_key)
        if self.environment == "production":
            raise ConfigurationError(
                "TONGKA_SECRET_KEY is required in production (64 hex characters or more)."
            )
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
            sys.stderr.write(
                f"warning: generated a development secret key in {key_file}; "
                "set TONGKA_SECRET_KEY in production\n"
            )
        return _decode_key(key_file.read_text().strip())


def _decode_key(value: str) -> bytes:
    try:
        key = bytes.fromhex(value)
    except ValueError as exc:
        raise ConfigurationError("TONGKA_SECRET_KEY must be hex") from exc
    if len(key) < 32:
        raise ConfigurationError("TONGKA_SECRET_KEY must be at least 32 bytes (64 hex chars)")
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
