"""Every domain error code is worded for people in both languages, with its parameters
formatted (yuan, the platform's local time, words for codes): ``web.error_messages``."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

import tongka
from tongka.cards.errors import (
    CardFrozen,
    IllegalCardTransition,
    InvalidCardProduct,
    MaxBalanceExceeded,
)
from tongka.cards.products import (
    ProductSpec,
    RegulationRules,
    regulation_breaches,
    regulation_violation,
    spec_problem_details,
)
from tongka.errors import DomainError, NotFound, amount_detail
from tongka.identity.errors import AlreadyExists
from tongka.ledger.errors import InsufficientFunds, PendingTransferExpired
from tongka.money import Money, MoneyError
from tongka.web import catalogs
from tongka.web.error_messages import MESSAGES, error_text

SOURCE = Path(tongka.__file__).resolve().parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@cache
def _error_classes() -> dict[str, type[DomainError]]:
    """Every DomainError subclass in the source, by class name (all modules imported)."""
    for module in pkgutil.walk_packages([str(SOURCE)], prefix="tongka."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: dict[str, type[DomainError]] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _constant(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _source_codes() -> set[str]:
    """Codes of the source: DomainError subclasses' ``code`` attributes, and ``code="..."``
    (and ``problem`` variants in literal ``details``) where one is built."""
    classes = _error_classes()
    codes = {cls.code for cls in classes.values()}
    # error factories that pass the code on (edge.auth._refuse)
    factories = {"_refuse": "authentication_failed"}
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            if name not in classes and name not in factories:
                continue
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            code = _constant(keywords.get("code"))
            if code is None and name in factories and len(node.args) > 1:
                code = _constant(node.args[1])
            if code is None:
                code = classes[name].code if name in classes else factories[str(name)]
            codes.add(code)
            details = keywords.get("details")
            if isinstance(details, ast.Dict):
                for key, value in zip(details.keys, details.values, strict=True):
                    problem = _constant(value)
                    if _constant(key) == "problem" and problem is not None:
                        codes.add(f"{code}.{problem}")
    return codes


def _card_product_problem_codes() -> set[str]:
    """``invalid_card_product.<problem>`` of every check in ``spec_problem_details`` and
    ``regulation_violation.<rule>`` of every rule of the regulation."""
    tree = ast.parse((SOURCE / "cards" / "products.py").read_text(encoding="utf-8"))
    codes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) == "check" and len(node.args) >= 3:
            problem = node.args[3] if len(node.args) > 3 else node.args[1]
            codes.add(f"invalid_card_product.{_constant(problem)}")
    breaking = [
        ProductSpec("n", "CNY", "628801", 16, 10**9, is_named=True, validity_months=12),
        ProductSpec("n", "CNY", "628801", 16, 10**9, is_named=False, validity_months=1),
    ]
    for spec in breaking:
        codes |= {f"regulation_violation.{b['rule']}" for b in regulation_breaches(spec, RULES)}
    return codes


RULES = RegulationRules()


def test_the_scan_finds_the_codes_it_should() -> None:
    codes = _source_codes()
    assert {
        "card_max_balance_exceeded",
        "insufficient_funds",
        "invalid_api_key",
        "export_password_too_short",
        "invalid_amount.too_many_decimals",
        "illegal_card_transition.balance_not_empty",
    } <= codes
    assert "regulation_violation.anonymous_min_validity_months" in _card_product_problem_codes()


def test_every_error_code_has_a_message() -> None:
    missing = sorted((_source_codes() | _card_product_problem_codes()) - set(MESSAGES))
    assert missing == []


@cache
def _catalog(language: str) -> Catalog:
    return catalogs.read_catalog(language)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_message_is_translated(language: str) -> None:
    catalog = _catalog(language)
    texts = {text for entry in MESSAGES.values() for text in (entry.text, entry.bare) if text}
    untranslated = sorted(
        text for text in texts if (message := catalog.get(text)) is None or not message.string
    )
    assert untranslated == []


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_a_message_reads_well_without_its_parameters(code: str) -> None:
    entry = MESSAGES[code]
    if PLACEHOLDER.search(entry.text):
        assert entry.bare is not None
        assert not PLACEHOLDER.search(entry.bare)
    for language in ("zh-CN", "en"):
        text = error_text(language, _bare_error(code))
        assert "%(" not in text
        assert text.strip()


def _bare_error(code: str) -> DomainError:
    base, _, problem = code.partition(".")
    return DomainError("English", code=base, details={"problem": problem} if problem else None)


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_the_chinese_keeps_every_parameter(code: str) -> None:
    catalog = _catalog("zh-CN")
    for text in (MESSAGES[code].text, MESSAGES[code].bare):
        if text:
            translated = catalog.get(text)
            assert translated is not None
            chinese = str(translated.string)
            assert set(PLACEHOLDER.findall(chinese)) == set(PLACEHOLDER.findall(text))


# formatting for people


MAX_BALANCE = MaxBalanceExceeded(
    "The card may hold at most 500000 (minor units); it holds 450000 and 100000 more would "
    "exceed that.",
    details={
        "max_balance": amount_detail(500_000, "CNY"),
        "balance": amount_detail(450_000, "CNY"),
        "adding": Money(100_000, "CNY"),
    },
)


def test_the_max_balance_refusal_shows_yuan() -> None:
    assert error_text("zh-CN", MAX_BALANCE) == (
        "超过单卡余额上限 ¥5,000.00：卡内已有 ¥4,500.00，再存入 ¥1,000.00 将超出上限。"
    )
    assert error_text("en", MAX_BALANCE) == (
        "This would exceed the card's maximum balance of ¥5,000.00: it holds ¥4,500.00, "
        "and ¥1,000.00 more is too much."
    )


def test_insufficient_funds_shows_the_available_yuan() -> None:
    # the ledger keeps the available balance as minor units beside the account's currency
    refused = InsufficientFunds("…", details={"available": 55_000, "currency": "CNY"})
    assert error_text("zh-CN", refused) == "余额不足：可用余额 ¥550.00。"
    assert error_text("en", refused) == "Insufficient balance: ¥550.00 available."
    assert error_text("zh-CN", InsufficientFunds("…")) == "余额不足。"


def test_a_time_shows_in_the_platforms_zone() -> None:
    expired = PendingTransferExpired(
        "…", details={"expires_at": datetime(2026, 3, 1, 17, 30, tzinfo=UTC)}
    )
    assert error_text("zh-CN", expired) == "该预授权已于 2026-03-02 01:30 过期。"
    assert error_text("en", expired, timezone="UTC") == (
        "The pending transfer expired at 2026-03-01 17:30."
    )


def test_a_date_shows_as_a_date() -> None:
    refused = DomainError(
        "…",
        code="invalid_date_range",
        details={"first_date": date(2026, 3, 2), "last_date": date(2026, 3, 1)},
    )
    assert error_text("zh-CN", refused) == "结束日期 2026-03-01 早于开始日期 2026-03-02。"


def test_regulation_rules_cite_their_article_in_chinese() -> None:
    spec = ProductSpec("n", "CNY", "628801", 16, 600_000, is_named=True, validity_months=12)
    breaches = regulation_breaches(spec, RULES)
    refused = regulation_violation(breaches)
    assert "(minor units)" not in error_text("en", refused)
    assert error_text("zh-CN", refused) == (
        "根据《单用途商业预付卡管理办法（试行）》第二十一条，记名卡单卡余额不得超过 ¥5,000.00。"
        "根据《单用途商业预付卡管理办法（试行）》第二十二条，记名卡不得设定有效期。"
    )
    assert refused.details["violations"][0].startswith("《单用途商业预付卡管理办法（试行）》")


def test_each_malformed_field_of_a_product_is_worded() -> None:
    spec = ProductSpec("", "CNY", "12", 16, 100_000, is_named=False, face_values=[10_000])
    refused = InvalidCardProduct("…", details={"problems": spec_problem_details(spec)})
    assert error_text("zh-CN", refused) == "名称不能为空。卡BIN 须为 6 至 8 位数字。"


def test_codes_in_parameters_show_in_words() -> None:
    refused = IllegalCardTransition(
        "…", details={"status": "frozen", "action": "freeze", "allowed": ["active"]}
    )
    assert error_text("zh-CN", refused) == "卡片当前为“已冻结”，不能冻结（仅限状态为正常的卡片）。"
    frozen = CardFrozen("…", details={"frozen_by": "issuer", "reason": "风控核查"})
    assert error_text("zh-CN", frozen) == "卡片已被发卡商户冻结（风控核查）。"
    assert error_text("zh-CN", CardFrozen("…", details={"frozen_by": "issuer"})) == "卡片已冻结。"


def test_fields_and_objects_show_in_words() -> None:
    exists = AlreadyExists("…", param="email", details={"object": "user"})
    assert error_text("zh-CN", exists) == "已存在相同邮箱的用户。"
    assert error_text("zh-CN", NotFound("No such store.", details={"object": "store"})) == (
        "门店不存在。"
    )
    # a field without words: the message without it
    assert error_text("zh-CN", AlreadyExists("…", param="nickname")) == "该记录已存在。"


def test_an_amount_with_too_many_decimals_says_so() -> None:
    with pytest.raises(MoneyError) as refused:
        Money.parse("12.345", "CNY")
    assert error_text("zh-CN", refused.value) == "“12.345”有 3 位小数，CNY 金额最多 2 位小数。"


def test_a_generic_code_shows_a_translated_page_message() -> None:
    # console pages raise generic errors with their own N_ texts
    refused = DomainError("Acceptance agreements are made between merchants.")
    assert error_text("zh-CN", refused) == "受理协议由商户之间签订。"
    assert error_text("zh-CN", DomainError("untranslated words")) == "请求无效。"
