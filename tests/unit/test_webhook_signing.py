"""verify_signature: what a merchant runs on every delivery it receives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tongka.webhooks import WebhookSignatureError, verify_signature
from tongka.webhooks.signing import signature_header

SECRET = "whsec_test_secret"
PAYLOAD = b'{"id":"evt_1","type":"card.frozen"}'
NOW = 1_790_000_000


def test_a_genuine_delivery_passes() -> None:
    header = signature_header(PAYLOAD, [SECRET], NOW)
    assert re.fullmatch(r"t=1790000000,v1=[0-9a-f]{64}", header)
    verify_signature(PAYLOAD, header, SECRET, now=NOW + 10)


@pytest.mark.parametrize(
    ("payload", "secret", "now", "reason"),
    [
        (PAYLOAD.replace(b"frozen", b"thawed"), SECRET, NOW, "no signature matches"),
        (PAYLOAD, "whsec_someone_else", NOW, "no signature matches"),
        (PAYLOAD, SECRET, NOW + 301, "outside the tolerance"),
        (PAYLOAD, SECRET, NOW - 301, "outside the tolerance"),
    ],
    ids=["tampered-body", "wrong-secret", "stale", "from-the-future"],
)
def test_a_forged_or_stale_delivery_is_refused(
    payload: bytes, secret: str, now: int, reason: str
) -> None:
    header = signature_header(PAYLOAD, [SECRET], NOW)
    with pytest.raises(WebhookSignatureError, match=reason):
        verify_signature(payload, header, secret, now=now)


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", f"t={NOW}"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(WebhookSignatureError, match="malformed"):
        verify_signature(PAYLOAD, header, SECRET, now=NOW)


def test_during_rotation_either_secret_verifies() -> None:
    header = signature_header(PAYLOAD, ["whsec_new", "whsec_old"], NOW)
    verify_signature(PAYLOAD, header, "whsec_new", now=NOW)
    verify_signature(PAYLOAD, header, "whsec_old", now=NOW)


def test_the_copy_paste_example_in_the_docs_works() -> None:
    # given the standalone receiver function merchants copy from docs/webhooks.md
    docs = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
    example = re.search(r"```python\n(# receiver.py.*?)```", docs.read_text(), re.DOTALL)
    assert example is not None
    namespace: dict[str, object] = {}
    exec(compile(example.group(1), "webhooks.md", "exec"), namespace)
    check = namespace["verify_tongka_signature"]
    header = signature_header(PAYLOAD, [SECRET], NOW)
    # then it accepts what we sign and refuses a tampered body
    assert check(PAYLOAD, header, SECRET, now=NOW) is True  # type: ignore[operator]
    assert check(PAYLOAD + b" ", header, SECRET, now=NOW) is False  # type: ignore[operator]
    assert check(PAYLOAD, header, SECRET, now=NOW + 3600) is False  # type: ignore[operator]
