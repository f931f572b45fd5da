"""The ledger's worker jobs (registered in ``tongka.worker.JOBS``).

Both are idempotent (sealing seals only what is unsealed; an expiry's transfer id is
``expire-<sequence>``), so a connection lost while committing is simply run again.
"""

from __future__ import annotations

from tongka.clock import Clock
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger.sealing import seal_pending_blocks
from tongka.ledger.two_phase import expire_pending


async def seal_blocks(database: Database, clock: Clock, settings: Settings) -> int:
    """Seal what committed since the last run (skips its turn if another worker is sealing)."""
    return await database.run(
        lambda session: seal_pending_blocks(session, clock.now()), idempotent=True
    )


async def expire_pending_transfers(database: Database, clock: Clock, settings: Settings) -> int:
    """Release pending transfers whose timeout passed, a bounded number per run."""
    return await database.run(
        lambda session: expire_pending(session, now=clock.now()), idempotent=True
    )
