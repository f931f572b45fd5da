"""Credit codes, key derivation, keyed hashes and encryption: pure functions."""

from __future__ import annotations

import base64

import pytest

from tests.factories import valid_credit_code
from tongka.crypto import SecretBox
from tongka.identity.credit_code import credit_code_problem, normalize_credit_code
from tongka.identity.crypto import DecryptionFailed, decrypt, derive_key, encrypt, keyed_hash
from tongka.identity.passwords import hash_password, verify_password

ROOT = bytes(range(32))


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L", "9144030071526726XG"])
def test_real_credit_codes_are_valid(code: str) -> None:
    assert credit_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        pytest.param("91350100M000100Y4", "must be 18 characters long", id="too-short"),
        pytest.param("91350100M000100Y44", "check character does not match", id="check"),
        pytest.param("91350100I000100Y43", "may only contain", id="letter-I"),
        pytest.param("9135010OM000100Y43", "may only contain", id="division-not-digits"),
    ],
)
def test_bad_credit_codes_say_why(code: str, problem: str) -> None:
    assert problem in (credit_code_problem(code) or "")


def test_generated_codes_are_valid_and_normalisation_upper_cases() -> None:
    code = valid_credit_code(12345)
    assert credit_code_problem(code) is None
    assert normalize_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"


def test_derived_keys_differ_by_purpose_and_hashes_by_key() -> None:
    first, second = derive_key(ROOT, "a"), derive_key(ROOT, "b")
    assert first != second
    assert len(first) == 32
    assert keyed_hash(first, "x") != keyed_hash(second, "x")
    assert keyed_hash(first, "x") == keyed_hash(derive_key(ROOT, "a"), "x")


def test_encryption_round_trips_and_is_bound_to_its_row() -> None:
    key = derive_key(ROOT, "bank")
    sealed = encrypt(key, "6222021234567890", associated_data="mch_1")
    assert "6222021234567890" not in sealed
    assert sealed != encrypt(key, "6222021234567890", associated_data="mch_1")  # fresh nonce
    assert decrypt(key, sealed, associated_data="mch_1") == "6222021234567890"
    with pytest.raises(DecryptionFailed):
        decrypt(key, sealed, associated_data="mch_2")
    with pytest.raises(DecryptionFailed):
        decrypt(derive_key(ROOT, "other"), sealed, associated_data="mch_1")


def test_password_hash_is_argon2id_and_verifies_only_the_password() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong horse battery")
    assert not verify_password(None, "anything")


# Sealed under the modules as they were before identity/crypto.py and secretbox.py became
# tongka.crypto: rows already stored this way must keep opening.
STORED_TEXT = "v1:dBN7kVAqO0AL6qDObbKC8ewBZK7y+IraIy3NOjGLhAeGf64TRzCi+9H6APE="
STORED_BYTES = bytes.fromhex(
    "890b1e2b0fe375786d60d6041415abebfeb8756c80d6e66d25c7f8246f2231ee8b9f93557999"
)


def test_values_sealed_before_the_fold_still_open() -> None:
    text = decrypt(derive_key(ROOT, "bank"), STORED_TEXT, associated_data="mch_1")
    sealed = SecretBox(ROOT, "webhook-endpoint-secrets").open(STORED_BYTES, context="we_1")
    assert (text, sealed) == ("6222021234567890", b"whsec_test")


def test_a_secret_box_and_text_encryption_share_one_format() -> None:
    sealed = SecretBox(ROOT, "bank").seal(b"6222021234567890", context="mch_1")
    assert sealed[0] == 1  # the version byte; as text it is the "v1:" prefix
    as_text = "v1:" + base64.b64encode(sealed[1:]).decode()
    assert decrypt(derive_key(ROOT, "bank"), as_text, associated_data="mch_1") == "6222021234567890"
    with pytest.raises(DecryptionFailed):
        SecretBox(ROOT, "bank").open(sealed, context="mch_2")
