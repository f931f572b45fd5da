"""Codes the console shows are shown in words: every value of every enum a page labels
has its words in ``web/labels.py`` (and the catalogs test makes sure they are translated)."""

from __future__ import annotations

import ast
import enum
from pathlib import Path

import pytest

from tongka.cards.acceptance import AgreementStatus
from tongka.cards.issuing import BatchStatus, CardStatus
from tongka.cards.products import ProductStatus
from tongka.identity.models import (
    ApiKeyRole,
    KycLevel,
    MerchantRole,
    MerchantStatus,
    PlatformRole,
    UserStatus,
)
from tongka.reconciliation.kinds import (
    BankStatus,
    ExceptionKind,
    ExceptionStatus,
    ResolutionMethod,
    RunStatus,
)
from tongka.sales.receipts import ReceiptKind
from tongka.web.labels import LABELS
from tongka.webhooks.models import EndpointStatus

SOURCE = Path(__file__).resolve().parents[2] / "src" / "tongka"
SHOWN: list[tuple[str, type[enum.Enum]]] = [
    ("card_status", CardStatus),
    ("batch", BatchStatus),
    ("product", ProductStatus),
    ("agreement", AgreementStatus),
    ("status", MerchantStatus),
    ("status", UserStatus),
    ("role", PlatformRole),
    ("role", MerchantRole),
    ("role", ApiKeyRole),
    ("webhooks.status", EndpointStatus),
    ("receipt_kind", ReceiptKind),
    ("reconciliation.kind", ExceptionKind),
    ("reconciliation.status", ExceptionStatus),
    ("reconciliation.run", RunStatus),
    ("reconciliation.bank", BankStatus),
    ("reconciliation.method", ResolutionMethod),
]


@pytest.mark.parametrize(("group", "kind"), SHOWN, ids=[f"{g}:{k.__name__}" for g, k in SHOWN])
def test_every_value_of_a_shown_enum_has_words(group: str, kind: type[enum.Enum]) -> None:
    assert (
        sorted(str(member.value) for member in kind if str(member.value) not in LABELS[group]) == []
    )


def test_every_verification_level_has_words() -> None:
    assert [
        level.name.lower() for level in KycLevel if level.name.lower() not in LABELS["kyc"]
    ] == []


def card_transfer_codes() -> set[str]:
    """The ledger codes the card part posts (``code="card_..."``), each a kind of movement."""
    codes = set()
    for path in (SOURCE / "cards").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "code":
                value = node.value
                if isinstance(value, ast.Constant) and str(value.value).startswith("card_"):
                    codes.add(str(value.value))
    return codes


def test_every_kind_of_card_movement_has_words() -> None:
    codes = card_transfer_codes()
    assert "card_reissue" in codes  # the scan finds them
    assert sorted(codes - set(LABELS["movement"])) == []
