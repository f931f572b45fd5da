"""The one-time batch export: a CSV of numbers and secrets, readable only with a password.

Why public-key encryption: a batch is issued in chunks, possibly by a worker resuming after
a crash, long after the operator typed the password. The password is stretched with scrypt
into an X25519 private key at batch creation; only the *public* key and the salt are
stored. Each chunk's CSV rows are sealed to that public key (ephemeral X25519 + HKDF +
AES-GCM) in the same transaction that creates the chunk's cards, so no card ever exists
whose secret is not in the export, and the server can never read the export back.

File layout (text, one item per line)::

    TONGKA-CARD-EXPORT 1
    {"batch_id": ..., "kdf": "scrypt", "n": ..., "r": ..., "p": ..., "salt": ..., "public_key": ...}
    <base64: chunk index (4 bytes) | ephemeral public key (32) | nonce (12) | ciphertext>
    ...

``tongka cards decrypt-export FILE`` turns it back into the CSV.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from tongka.errors import InvalidRequest

MAGIC = "TONGKA-CARD-EXPORT 1"
CSV_HEADER = ["number", "secret", "face_value", "currency", "expiry"]
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
MINIMUM_PASSWORD_LENGTH = 12


class ExportPasswordWrong(InvalidRequest):
    code = "export_password_wrong"


@dataclass(frozen=True)
class ExportKey:
    """What the server keeps of the operator's password: a salt and a public key."""

    salt: bytes
    public_key: bytes

    def header(self, batch_id: str) -> str:
        return json.dumps(
            {
                "batch_id": batch_id,
                "kdf": "scrypt",
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "salt": base64.b64encode(self.salt).decode(),
                "public_key": base64.b64encode(self.public_key).decode(),
            },
            sort_keys=True,
        )


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _private_key(password: str, salt: bytes, n: int, r: int, p: int) -> X25519PrivateKey:
    seed = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())
    return X25519PrivateKey.from_private_bytes(seed)


def export_key_from_password(password: str) -> ExportKey:
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"The export password needs at least {MINIMUM_PASSWORD_LENGTH} characters.",
            code="export_password_too_short",
            param="export_password",
            details={"minimum": MINIMUM_PASSWORD_LENGTH},
        )
    salt = os.urandom(16)
    private_key = _private_key(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return ExportKey(salt=salt, public_key=_raw(private_key.public_key()))


def _segment_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"tongka.cards.export.v1" + ephemeral + recipient,
    ).derive(shared)


def csv_rows(rows: Iterable[Iterable[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def seal_segment(public_key: bytes, batch_id: str, chunk_index: int, plaintext: bytes) -> str:
    """Encrypt one chunk's CSV rows to the batch's public key; returns one base64 line."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = _raw(ephemeral.public_key())
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key))
    nonce = os.urandom(12)
    index = chunk_index.to_bytes(4, "big")
    sealed = AESGCM(_segment_key(shared, ephemeral_raw, public_key)).encrypt(
        nonce, plaintext, batch_id.encode() + index
    )
    return base64.b64encode(index + ephemeral_raw + nonce + sealed).decode()


def build_file(header: str, segments: Iterable[str]) -> str:
    return "\n".join([MAGIC, header, *segments]) + "\n"


PRODUCTION_HEADER = ["embossed_number", "barcode", "scratch_off_secret", "face_value", "expiry"]


def production_rows(rows: list[list[str]]) -> list[list[str]]:
    """The printer's file for physical cards: the number embossed in groups of four and as
    a barcode, the secret printed under a scratch-off panel. It holds secrets, so it is
    produced only from the decrypted export, on the operator's machine, never stored."""
    produced = [PRODUCTION_HEADER]
    for number, secret, face_value, _currency, expiry in rows[1:]:
        grouped = " ".join(number[start : start + 4] for start in range(0, len(number), 4))
        produced.append([grouped, number, secret, face_value, expiry])
    return produced


def decrypt_file(content: str, password: str) -> Iterator[list[str]]:
    """Yield the CSV rows (header first) of an export file; wrong password -> error."""
    lines = content.splitlines()
    if not lines or lines[0] != MAGIC:
        raise InvalidRequest("Not a Tongka card export file.", code="export_file_invalid")
    header = json.loads(lines[1])
    salt = base64.b64decode(header["salt"])
    private_key = _private_key(password, salt, header["n"], header["r"], header["p"])
    public_key = _raw(private_key.public_key())
    if public_key != base64.b64decode(header["public_key"]):
        raise ExportPasswordWrong("The password does not open this export.")
    yield CSV_HEADER
    for line in lines[2:]:
        if not line:
            continue
        blob = base64.b64decode(line)
        index, ephemeral, nonce, sealed = blob[:4], blob[4:36], blob[36:48], blob[48:]
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        try:
            plaintext = AESGCM(_segment_key(shared, ephemeral, public_key)).decrypt(
                nonce, sealed, header["batch_id"].encode() + index
            )
        except InvalidTag as exc:
            raise InvalidRequest(
                "A segment of the export is damaged.", code="export_file_invalid"
            ) from exc
        yield from csv.reader(io.StringIO(plaintext.decode()))
