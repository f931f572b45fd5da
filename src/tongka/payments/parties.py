"""Payer and payee accounts of a payment: sealed in full, kept in clear only masked.

The regulation asks us to record who paid from which account (and into which) for every
non-cash purchase; the numbers are shown masked everywhere (``6222 **** 1234``) and the
names with all but their first character hidden (``张**``). The whole record is one
envelope (``tongka.crypto.encrypt``) under the key derived for ``payments-parties``, bound
to the payment's id, so a value copied onto another payment does not open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tongka.config import Settings
from tongka.crypto import decrypt, derive_key, encrypt
from tongka.payments.channel import ChannelPayment

KEY_PURPOSE = "payments-parties"


@dataclass(frozen=True)
class Parties:
    payer_account_name: str | None = None
    payer_account_number: str | None = None
    payee_account_name: str | None = None
    payee_account_number: str | None = None

    @classmethod
    def of(cls, paid: ChannelPayment) -> Parties:
        return cls(
            paid.payer_account_name or None,
            paid.payer_account_number or None,
            paid.payee_account_name or None,
            paid.payee_account_number or None,
        )

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.payer_account_name,
                self.payer_account_number,
                self.payee_account_name,
                self.payee_account_number,
            )
        )


def mask_name(name: str | None) -> str | None:
    if not name:
        return None
    return name[0] + "*" * min(len(name) - 1, 8) if len(name) > 1 else "*"


def mask_number(number: str | None) -> str | None:
    if not number:
        return None
    digits = number.replace(" ", "")
    if len(digits) <= 4:
        return "*" * len(digits)
    head = digits[:4] if len(digits) >= 12 else ""
    return f"{head} **** {digits[-4:]}".strip()


def _key(settings: Settings) -> bytes:
    return derive_key(settings.secret_key_bytes(), KEY_PURPOSE)


def seal_parties(settings: Settings, payment_id: str, parties: Parties) -> str | None:
    if parties.is_empty:
        return None
    plaintext = json.dumps(parties.__dict__, ensure_ascii=False, sort_keys=True)
    return encrypt(_key(settings), plaintext, associated_data=payment_id)


def open_parties(settings: Settings, payment_id: str, sealed: str | None) -> Parties:
    """The clear accounts (for a payout or an auditor; never shown or logged)."""
    if sealed is None:
        return Parties()
    return Parties(**json.loads(decrypt(_key(settings), sealed, associated_data=payment_id)))
