"""Sandbox key material for every channel, generated once and shared by processes.

The sandbox gateway plays each channel with the channel's own (platform) key pair and
checks our requests with our merchant public key; the API process signs with our merchant
private key and verifies with the platform public key. Both read the same files under
``settings.data_dir / "sandbox-keys"``, so a gateway started by ``make run`` and the server
agree without any exchange. Files are written atomically (temporary file + ``os.link``, so
two processes racing on first use end with one key set) and readable by the owner only.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import string
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tongka.config import Settings
from tongka.payments.channel import ChannelName

KEY_DIR_NAME = "sandbox-keys"
KEYED_CHANNELS = (
    ChannelName.WECHAT,
    ChannelName.ALIPAY,
    ChannelName.UNIONPAY,
    ChannelName.BANK_TRANSFER,
)


@dataclass(frozen=True)
class ChannelKeys:
    """One channel's keys. ``merchant_*`` is ours (the channel knows our public key);
    ``platform_*`` is the channel's (we know its public key; only the gateway its private
    key). ``secret``: WeChat's APIv3 key (32 characters) or the bank's HMAC key."""

    channel: str
    merchant_id: str  # WeChat mchid, Alipay app_id, UnionPay merId, bank account id
    app_id: str  # WeChat appid (JSAPI/Native); Alipay app_id again
    merchant_serial: str  # our certificate's serial (WeChat serial_no, UnionPay certId)
    merchant_private_pem: str
    merchant_public_pem: str
    platform_serial: str  # the platform certificate's serial (Wechatpay-Serial)
    platform_private_pem: str
    platform_public_pem: str
    secret: str

    def merchant_private_key(self) -> rsa.RSAPrivateKey:
        return _private(self.merchant_private_pem)

    def merchant_public_key(self) -> rsa.RSAPublicKey:
        return _public(self.merchant_public_pem)

    def platform_private_key(self) -> rsa.RSAPrivateKey:
        return _private(self.platform_private_pem)

    def platform_public_key(self) -> rsa.RSAPublicKey:
        return _public(self.platform_public_pem)


# Loading a private key checks it (about 0.1 s of CPU for RSA-2048 on a busy machine): the
# gateway signs every answer and notification, so each PEM is loaded once per process.
@lru_cache(maxsize=32)
def _private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@lru_cache(maxsize=32)
def _public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def new_key_pair() -> tuple[str, str]:
    """A fresh RSA-2048 key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _generate(channel: ChannelName) -> ChannelKeys:
    merchant_private, merchant_public = ("", "")
    platform_private, platform_public = ("", "")
    if channel != ChannelName.BANK_TRANSFER:
        merchant_private, merchant_public = new_key_pair()
        platform_private, platform_public = new_key_pair()
    alphabet = string.ascii_letters + string.digits
    ids = {
        ChannelName.WECHAT: ("1900000109", "wx8888888888888888"),
        ChannelName.ALIPAY: ("2021000000000001", "2021000000000001"),
        ChannelName.UNIONPAY: ("777290058110048", "777290058110048"),
        ChannelName.BANK_TRANSFER: ("6222020200000000001", "tongka-reserve"),
    }[channel]
    return ChannelKeys(
        channel=channel.value,
        merchant_id=ids[0],
        app_id=ids[1],
        merchant_serial=secrets.token_hex(20).upper(),
        merchant_private_pem=merchant_private,
        merchant_public_pem=merchant_public,
        platform_serial=secrets.token_hex(20).upper(),
        platform_private_pem=platform_private,
        platform_public_pem=platform_public,
        secret="".join(secrets.choice(alphabet) for _ in range(32)),
    )


def key_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / KEY_DIR_NAME


def channel_keys(settings: Settings, channel: ChannelName) -> ChannelKeys:
    """The channel's keys, generated into the key directory on first use."""
    return _load_or_create(str(key_dir(settings).resolve()), channel.value)


@lru_cache(maxsize=64)
def _load_or_create(directory: str, channel: str) -> ChannelKeys:
    path = Path(directory) / f"{channel}.json"
    if not path.exists():
        _write_once(path, asdict(_generate(ChannelName(channel))))
    data: dict[str, Any] = json.loads(path.read_text())
    return ChannelKeys(**data)


def _write_once(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
