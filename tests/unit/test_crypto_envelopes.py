"""One envelope for every purpose: round trips, the version byte checked, purposes apart."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tongka.cards.keys import CardKeys
from tongka.crypto import (
    DecryptionFailed,
    SecretBox,
    UnknownEnvelopeVersion,
    decrypt,
    derive_key,
    encrypt,
    open_sealed,
    seal,
)

ROOT = bytes(range(32))
CARDS = CardKeys.from_root(ROOT)
# the purposes the platform seals under, as their callers name them
PURPOSES = ["idempotency-responses", "webhook-endpoint-secrets", "merchant-bank-account"]


def test_a_card_number_round_trips_and_its_version_byte_is_checked() -> None:
    sealed = CARDS.encrypt_number("6288011234567890", "card_1")
    assert sealed[0] == 1
    assert CARDS.decrypt_number(sealed, "card_1") == "6288011234567890"
    with pytest.raises(UnknownEnvelopeVersion, match="unknown envelope version 2"):
        CARDS.decrypt_number(b"\x02" + sealed[1:], "card_1")
    with pytest.raises(DecryptionFailed):
        CARDS.decrypt_number(b"", "card_1")


@pytest.mark.parametrize("purpose", PURPOSES)
def test_each_purpose_round_trips_as_bytes_and_as_text(purpose: str) -> None:
    box = SecretBox(ROOT, purpose)
    assert box.open(box.seal(b"value", context="row_1"), context="row_1") == b"value"
    key = derive_key(ROOT, purpose)
    text = encrypt(key, "6222021234567890", associated_data="row_1")
    assert text.startswith("v1:")
    assert decrypt(key, text, associated_data="row_1") == "6222021234567890"


def test_a_wrong_version_is_refused_in_bytes_and_in_text() -> None:
    key = derive_key(ROOT, "merchant-bank-account")
    sealed = seal(key, b"x", context="c")
    with pytest.raises(UnknownEnvelopeVersion):
        open_sealed(key, b"\x07" + sealed[1:], context="c")
    text = encrypt(key, "x", associated_data="c")
    with pytest.raises(UnknownEnvelopeVersion):
        decrypt(key, "v9:" + text[3:], associated_data="c")
    for broken in ("x1:" + text[3:], "v1:not base64!", "plain"):
        with pytest.raises(DecryptionFailed):
            decrypt(key, broken, associated_data="c")
    with pytest.raises(UnknownEnvelopeVersion):
        SecretBox(ROOT, "idempotency-responses").open(b"\x07" + sealed[1:], context="c")


def test_one_purposes_key_cannot_open_anothers_envelope() -> None:
    number = CARDS.encrypt_number("6288011234567890", "row_1")
    keys = {purpose: derive_key(ROOT, purpose) for purpose in PURPOSES}
    assert len(set(keys.values()) | {CARDS.number_encryption_key}) == len(PURPOSES) + 1
    for purpose, key in keys.items():
        with pytest.raises(DecryptionFailed):
            open_sealed(key, number, context="row_1")
        for other in PURPOSES:
            if other != purpose:
                with pytest.raises(DecryptionFailed):
                    SecretBox(ROOT, other).open(
                        SecretBox(ROOT, purpose).seal(b"v", context="row_1"), context="row_1"
                    )
    text = encrypt(keys["merchant-bank-account"], "6222", associated_data="row_1")
    with pytest.raises(DecryptionFailed):
        CARDS.decrypt_number(b"\x01" + base64.b64decode(text[3:]), "row_1")


def test_card_keys_keep_the_labels_their_stored_data_was_derived_with() -> None:
    def hkdf(info: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(
            ROOT
        )

    # card keys were derived as "tongka.<purpose>" before the fold; everything else "tongka:"
    assert CARDS.number_index_key == hkdf("tongka.cards.number-index.v1")
    assert CARDS.number_permutation_key == hkdf("tongka.cards.number-permutation.v1")
    assert derive_key(ROOT, "merchant-bank-account") == hkdf("tongka:merchant-bank-account")
