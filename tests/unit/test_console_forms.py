"""The console's form helpers without a server: yuan typed exactly, secrets never carried,
the flash's shape, and the pure ``available_actions`` of each domain."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tongka.cards.acceptance import available_actions as agreement_actions
from tongka.cards.lifecycle import available_actions as card_actions
from tongka.cards.products import available_actions as product_actions
from tongka.errors import InvalidRequest
from tongka.identity.api_keys import available_actions as key_actions
from tongka.identity.merchants import available_decisions
from tongka.web.forms import (
    AMOUNT_NOT_A_NUMBER,
    AMOUNT_TOO_PRECISE,
    MAX_PLAIN_BYTES,
    Flash,
    _fitting,
    is_secret,
    money_minor,
    required_reason,
    typed_values,
)
from tongka.webhooks.service import available_actions as endpoint_actions


@pytest.mark.parametrize(
    ("typed", "minor"),
    [("100", 10_000), ("99.5", 9_950), ("99.50", 9_950), ("¥1,000.01", 100_001), ("0.01", 1)],
)
def test_yuan_become_exact_minor_units(typed: str, minor: int) -> None:
    assert money_minor({"amount": typed}, "amount", "CNY") == minor


@pytest.mark.parametrize(
    ("typed", "message"),
    [("99.999", AMOUNT_TOO_PRECISE), ("0.001", AMOUNT_TOO_PRECISE), ("abc", AMOUNT_NOT_A_NUMBER)],
)
def test_a_wrong_amount_is_refused_at_its_field(typed: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        money_minor({"face_value": typed}, "face_value", "CNY")
    assert (refused.value.message, refused.value.param) == (message, "face_value")


def test_a_blank_amount_is_required_unless_optional() -> None:
    with pytest.raises(InvalidRequest):
        money_minor({"amount": " "}, "amount", "CNY")
    assert money_minor({"amount": ""}, "amount", "CNY", required=False) is None


def test_a_reason_is_required() -> None:
    with pytest.raises(InvalidRequest) as refused:
        required_reason({"reason": "   "})
    assert refused.value.param == "reason"
    assert required_reason({"reason": " 持卡人要求 "}) == "持卡人要求"


def test_secrets_are_never_carried_back() -> None:
    for name in ("password", "admin_password", "export_password", "code", "csrf_token", "secret"):
        assert is_secret(name), name
    values = typed_values(
        {"email": "a@b.example", "password": "x" * 12, "note": "n" * 5000, "account_number": "1"},
        frozenset({"account_number"}),
    )
    assert set(values) == {"email", "note"}
    assert len(values["note"]) == 300


def test_the_flash_reads_back_what_it_wrote() -> None:
    flash = Flash("请检查", "error", "/console/stores", {"city": "上海"}, {"name": "必填"})
    assert Flash.from_json(flash.to_json()) == flash


def _card(status: str) -> Any:
    return SimpleNamespace(status=status)


def test_each_status_offers_only_its_actions() -> None:
    assert card_actions(_card("active")) == ["freeze", "report_lost", "merge", "close"]
    assert card_actions(_card("frozen")) == ["unfreeze", "report_lost", "close"]
    assert card_actions(_card("lost")) == ["reissue"]
    assert card_actions(_card("closed")) == []
    assert card_actions(_card("issued")) == ["activate"]
    assert product_actions(_card("draft")) == ["submit"]
    assert product_actions(_card("pending_review")) == ["approve", "reject"]
    assert product_actions(_card("active")) == []
    assert available_decisions(_card("pending_review")) == ["approve", "reject"]
    assert available_decisions(_card("active")) == ["suspend"]
    assert available_decisions(_card("rejected")) == []
    assert key_actions(SimpleNamespace(revoked_at=None)) == ["revoke"]
    assert key_actions(SimpleNamespace(revoked_at="2026-01-01")) == []
    assert endpoint_actions(_card("enabled")) == ["rotate_secret", "disable"]
    assert endpoint_actions(_card("disabled")) == []


def test_an_agreement_offers_each_party_its_own_actions() -> None:
    proposal = SimpleNamespace(
        status="proposed", issuer_merchant_id="mch_i", acceptor_merchant_id="mch_a"
    )
    assert agreement_actions(proposal, "mch_a") == ["approve", "reject"]
    assert agreement_actions(proposal, "mch_i") == ["revoke"]
    assert agreement_actions(proposal, None) == []
    in_force = SimpleNamespace(
        status="approved", issuer_merchant_id="mch_i", acceptor_merchant_id="mch_a"
    )
    assert agreement_actions(in_force, "mch_a") == ["revoke"]


def test_a_flash_too_big_for_a_cookie_drops_what_was_typed_first() -> None:
    values = {f"field{n}": "长" * 300 for n in range(20)}
    flash = Flash("请检查", "error", "/console/stores", values, {"field1": "必填"})
    fitted = Flash.from_json(_fitting(flash).decode())
    assert len(_fitting(flash)) <= MAX_PLAIN_BYTES
    assert (fitted.message, fitted.field_errors, fitted.values) == (
        "请检查",
        {"field1": "必填"},
        {},
    )


def test_whole_number_fields_refuse_what_is_not_a_whole_number_in_range() -> None:
    from starlette.datastructures import FormData

    from tongka.errors import InvalidRequest
    from tongka.web.console import optional_whole_number, whole_number

    form = FormData([("n", " 12 "), ("neg", "-3"), ("empty", ""), ("bad", "1.5"), ("big", "8")])
    assert optional_whole_number(form, "n") == 12
    assert optional_whole_number(form, "empty") is None
    assert whole_number(form, "empty", default=5) == 5
    assert whole_number(form, "neg", low=None) == -3
    for name, kwargs in (("neg", {}), ("bad", {}), ("big", {"high": 7})):
        with pytest.raises(InvalidRequest) as refused:
            whole_number(form, name, **kwargs)  # type: ignore[arg-type]
        assert refused.value.code == "not_a_whole_number"
        assert refused.value.param == name
