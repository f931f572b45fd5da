"""``tongka demo``: idempotent demo data that grows with each feature.

Each part contributes a step ``tongka.<part>.demo:seed(session, context, now)``; steps run
in order inside one transaction and put what a newcomer needs (credentials, card numbers
and secrets) into ``context.credentials``, which is written to ``demo.json`` in the data
directory. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.config import Settings
from tongka.db import Database

# In dependency order. A step may read what earlier steps put in ``context.objects``.
DEMO_STEPS: list[str] = ["identity", "ledger", "cards", "sales", "settlement"]


@dataclass
class DemoContext:
    settings: Settings
    credentials: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)


async def load_demo_data(database: Database, settings: Settings, now: datetime) -> Path:
    """Run every demo step and write ``demo.json``; returns its path."""
    context = DemoContext(settings=settings)
    path = settings.data_dir / "demo.json"
    if path.exists():
        context.credentials = json.loads(path.read_text())

    async def seed_all(session: AsyncSession) -> None:
        for step in DEMO_STEPS:
            seed = importlib.import_module(f"tongka.{step}.demo").seed
            await seed(session, context, now)

    await database.run(seed_all)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(context.credentials, indent=2, ensure_ascii=False) + "\n")
    path.chmod(0o600)
    return path
