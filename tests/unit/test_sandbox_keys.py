"""Sandbox keys are generated once, owner-only, and the same for every reader."""

from __future__ import annotations

import stat
from pathlib import Path

from tongka.config import Settings
from tongka.payments import keys as keys_module
from tongka.payments.channel import ChannelName


def test_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, environment="test")
    first = keys_module.channel_keys(settings, ChannelName.BANK_TRANSFER)
    path = tmp_path / "sandbox-keys" / "bank_transfer.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys_module._load_or_create.cache_clear()  # another process: reads the file, no new key
    assert keys_module.channel_keys(settings, ChannelName.BANK_TRANSFER) == first
    assert len(first.secret) == 32
    assert [p.name for p in path.parent.iterdir()] == ["bank_transfer.json"]  # no temp files left
