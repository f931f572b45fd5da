"""Card products (卡种): definition, the platform's review, the regulation, BIN ranges."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import numbers
from tongka.cards.acceptance import Acceptance, ensure_acceptance_agreed, ensure_product_acceptance
from tongka.cards.errors import (
    BinRangeConflict,
    CardProductNotFound,
    IllegalProductTransition,
    InvalidCardProduct,
    RegulationViolation,
)
from tongka.cards.models import CardProduct, CardRegulation
from tongka.currencies import currency_problem
from tongka.errors import amount_detail
from tongka.events import record_event
from tongka.identity.principal import Principal
from tongka.ids import new_id
from tongka.money import Money, format_money

REGULATION = "《单用途商业预付卡管理办法（试行）》"
CAPACITY_WARNING_RATIO = Decimal("0.9")


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    ACTIVE = "active"
    REJECTED = "rejected"


class BreakagePolicy(enum.StrEnum):
    FORFEIT = "forfeit"  # the balance becomes breakage income, booked for the issuer
    EXCHANGE = "exchange"  # exchangeable for a new card at a ratio within a grace period


class CardForm(enum.StrEnum):
    PHYSICAL = "physical"
    VIRTUAL = "virtual"


@dataclass(frozen=True)
class ProductSpec:
    """What an issuer asks for. Amounts are minor units of ``currency``."""

    name: str
    currency: str
    bin_prefix: str
    number_length: int
    max_balance: int
    is_named: bool
    form: CardForm = CardForm.VIRTUAL
    face_values: list[int] | None = None
    face_value_min: int | None = None
    face_value_max: int | None = None
    is_top_up_allowed: bool = True
    validity_months: int | None = None
    acceptance: Acceptance = Acceptance.ISSUER_STORES
    accepted_store_ids: list[str] = field(default_factory=list)
    accepted_merchant_ids: list[str] = field(default_factory=list)
    breakage_policy: BreakagePolicy = BreakagePolicy.FORFEIT
    exchange_grace_days: int | None = None
    exchange_ratio: Decimal | None = None
    is_bonus_spent_first: bool = False  # 充值赠送: bonus value spent before the paid value


@dataclass(frozen=True)
class RegulationRules:
    is_enforced: bool = True
    anonymous_max_balance: int = 100_000  # ¥1,000
    named_max_balance: int = 500_000  # ¥5,000
    anonymous_min_validity_months: int = 36
    is_named_expiry_forbidden: bool = True


REGULATION_ID = 1


async def _regulation_row(session: AsyncSession, now: datetime, *, lock: bool) -> CardRegulation:
    statement = select(CardRegulation).where(CardRegulation.id == REGULATION_ID)
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None:
        row = CardRegulation(
            id=REGULATION_ID, updated_by="system", updated_at=now, **asdict(RegulationRules())
        )
        session.add(row)
        await session.flush()
    return row


def _rules_of(row: CardRegulation) -> RegulationRules:
    return RegulationRules(
        **{rule.name: getattr(row, rule.name) for rule in fields(RegulationRules)}
    )


async def get_regulation(session: AsyncSession, now: datetime) -> RegulationRules:
    return _rules_of(await _regulation_row(session, now, lock=False))


async def set_regulation(
    session: AsyncSession, rules: RegulationRules, *, actor: str, now: datetime
) -> RegulationRules:
    """The platform changes the rules; products already approved keep their terms."""
    row = await _regulation_row(session, now, lock=True)
    before = _rules_of(row)
    for name, value in asdict(rules).items():
        setattr(row, name, value)
    row.updated_by = actor
    row.updated_at = now
    await record_event(
        session,
        type="card_regulation.updated",
        object_type="card_regulation",
        object_id=str(REGULATION_ID),
        actor=actor,
        now=now,
        data={"before": asdict(before), "after": asdict(rules)},
    )
    return rules


def _show(amount: int, currency: str) -> str:
    return format_money(Money(amount, currency))


def regulation_problems(spec: ProductSpec, rules: RegulationRules) -> list[str]:
    """Every rule the product breaks, each citing its article (empty: compliant)."""
    return [str(breach["message"]) for breach in regulation_breaches(spec, rules)]


def regulation_breaches(spec: ProductSpec, rules: RegulationRules) -> list[dict[str, object]]:
    """Every rule the product breaks: the rule (a ``RegulationRules`` field, as
    ``problem``), its article, the limit it sets and the English message citing it."""
    if not rules.is_enforced:
        return []
    breaches: list[dict[str, object]] = []

    def breach(rule: str, article: int, message: str, **limit: object) -> None:
        breaches.append({"problem": rule, "rule": rule, "article": article, "message": message})
        breaches[-1].update(limit)

    if spec.is_named and spec.max_balance > rules.named_max_balance:
        breach(
            "named_max_balance",
            21,
            f"{REGULATION}第二十一条: a named card (记名卡) may hold at most "
            f"{_show(rules.named_max_balance, spec.currency)}.",
            limit=amount_detail(rules.named_max_balance, spec.currency),
        )
    if not spec.is_named and spec.max_balance > rules.anonymous_max_balance:
        breach(
            "anonymous_max_balance",
            21,
            f"{REGULATION}第二十一条: an anonymous card (不记名卡) may hold at most "
            f"{_show(rules.anonymous_max_balance, spec.currency)}.",
            limit=amount_detail(rules.anonymous_max_balance, spec.currency),
        )
    if spec.is_named and rules.is_named_expiry_forbidden and spec.validity_months is not None:
        breach(
            "is_named_expiry_forbidden",
            22,
            f"{REGULATION}第二十二条: a named card (记名卡) may not expire.",
        )
    if (
        not spec.is_named
        and spec.validity_months is not None
        and spec.validity_months < rules.anonymous_min_validity_months
    ):
        breach(
            "anonymous_min_validity_months",
            22,
            f"{REGULATION}第二十二条: an anonymous card (不记名卡) must be valid for at least "
            f"{rules.anonymous_min_validity_months} months.",
            months=rules.anonymous_min_validity_months,
        )
    return breaches


def regulation_violation(breaches: list[dict[str, object]]) -> RegulationViolation:
    """The refusal of a product breaking ``breaches`` (its message cites each article)."""
    messages = [str(breach["message"]) for breach in breaches]
    return RegulationViolation(
        " ".join(messages), details={"violations": messages, "problems": breaches}
    )


def spec_problems(spec: ProductSpec) -> list[tuple[str, str]]:
    """Malformed fields as (param, message) pairs, all of them at once."""
    return [(problem["param"], problem["message"]) for problem in spec_problem_details(spec)]


def spec_problem_details(spec: ProductSpec) -> list[dict[str, str]]:
    """Malformed fields, all of them at once: each its ``param``, the ``problem`` (a stable
    code, worded for people as ``invalid_card_product.<problem>``) and the English message."""
    problems: list[dict[str, str]] = []

    def check(condition: bool, param: str, message: str, problem: str | None = None) -> None:
        if not condition:
            problems.append({"param": param, "problem": problem or param, "message": message})

    check(bool(spec.name.strip()), "name", "The name may not be empty.", "name_empty")
    currency_refusal = currency_problem(spec.currency)  # TONGKA_CURRENCIES (tongka.currencies)
    check(currency_refusal is None, "currency", str(currency_refusal))
    if currency_refusal is not None:
        problems[-1]["currency"] = str(spec.currency)
    check(
        spec.bin_prefix.isdigit() and 6 <= len(spec.bin_prefix) <= 8,
        "bin_prefix",
        "The BIN is 6 to 8 digits.",
    )
    check(16 <= spec.number_length <= 19, "number_length", "Card numbers have 16 to 19 digits.")
    check(spec.max_balance > 0, "max_balance", "The maximum balance must be positive.")
    has_list = spec.face_values is not None
    has_range = spec.face_value_min is not None or spec.face_value_max is not None
    check(
        has_list != has_range,
        "face_values",
        "Give either a list of face values or an open range (min and max), not both.",
        "face_values_list_or_range",
    )
    if spec.face_values is not None:
        check(
            bool(spec.face_values)
            and all(0 < value <= spec.max_balance for value in spec.face_values),
            "face_values",
            "Face values must be positive and at most the maximum balance.",
        )
    if has_range:
        low, high = spec.face_value_min, spec.face_value_max
        check(
            low is not None and high is not None and 0 < low <= high <= spec.max_balance,
            "face_value_min",
            "The face value range needs 0 < min <= max <= maximum balance.",
            "face_value_range",
        )
    check(
        spec.validity_months is None or 1 <= spec.validity_months <= 1200,
        "validity_months",
        "Validity is 1 to 1200 months, or none.",
    )
    check(
        spec.acceptance is not Acceptance.STORES
        or (
            bool(spec.accepted_store_ids)
            and all(i.startswith("sto_") for i in spec.accepted_store_ids)
        ),
        "accepted_store_ids",
        "Acceptance by stores needs a list of store ids (sto_...).",
        "store_ids_required",
    )
    check(
        spec.acceptance is not Acceptance.MERCHANTS
        or (
            bool(spec.accepted_merchant_ids)
            and all(i.startswith("mch_") for i in spec.accepted_merchant_ids)
        ),
        "accepted_merchant_ids",
        "Multi-merchant acceptance needs a list of merchant ids (mch_...).",
        "merchant_ids_required",
    )
    check(
        spec.acceptance is Acceptance.STORES or not spec.accepted_store_ids,
        "accepted_store_ids",
        "Store ids are given only with acceptance 'stores'.",
        "store_ids_unexpected",
    )
    check(
        spec.acceptance is Acceptance.MERCHANTS or not spec.accepted_merchant_ids,
        "accepted_merchant_ids",
        "Merchant ids are given only with acceptance 'merchants'.",
        "merchant_ids_unexpected",
    )
    if spec.breakage_policy is BreakagePolicy.EXCHANGE:
        check(
            spec.exchange_grace_days is not None and spec.exchange_grace_days > 0,
            "exchange_grace_days",
            "An exchange policy needs a grace period in days.",
        )
        check(
            spec.exchange_ratio is not None and Decimal(0) < spec.exchange_ratio <= Decimal(1),
            "exchange_ratio",
            "An exchange policy needs a ratio in (0, 1].",
        )
    return problems


def parse_ratio(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise InvalidCardProduct(
            "Not a decimal ratio.",
            param="exchange_ratio",
            details={"problem": "ratio_not_decimal"},
        ) from exc


async def _ensure_bin_is_free(session: AsyncSession, bin_prefix: str) -> None:
    """No BIN may equal, contain or be contained in another (a prefix of one is ambiguous)."""
    prefixes = (await session.execute(select(CardProduct.bin_prefix))).scalars().all()
    for existing in prefixes:
        if existing.startswith(bin_prefix) or bin_prefix.startswith(existing):
            raise BinRangeConflict(
                f"The BIN {bin_prefix} overlaps the BIN range {existing} of another product.",
                param="bin_prefix",
                details={"bin_prefix": bin_prefix, "existing": existing},
            )


async def create_product(
    session: AsyncSession, merchant_id: str, spec: ProductSpec, *, actor: str, now: datetime
) -> CardProduct:
    """A draft product. Refused (nothing written) if malformed, non-compliant, its BIN
    overlaps, or it names stores or merchants without their consent (see ``acceptance``);
    the regulation row is locked so two overlapping BINs cannot both pass."""
    problems = spec_problem_details(spec)
    if problems:
        raise InvalidCardProduct(
            "; ".join(f"{problem['param']}: {problem['message']}" for problem in problems),
            param=problems[0]["param"],
            details={"problems": problems},
        )
    regulation = await _regulation_row(session, now, lock=True)
    breaches = regulation_breaches(spec, _rules_of(regulation))
    if breaches:
        raise regulation_violation(breaches)
    await _ensure_bin_is_free(session, spec.bin_prefix)
    await ensure_acceptance_agreed(
        session, merchant_id, spec.acceptance, spec.accepted_store_ids, spec.accepted_merchant_ids
    )
    columns = asdict(spec) | {
        "name": spec.name.strip(),
        "face_values": sorted(spec.face_values) if spec.face_values is not None else None,
        "exchange_ratio": str(spec.exchange_ratio) if spec.exchange_ratio is not None else None,
    }
    product = CardProduct(
        id=new_id("cpr"),
        merchant_id=merchant_id,
        status=ProductStatus.DRAFT,
        issued_count=0,
        created_at=now,
        updated_at=now,
        **columns,
    )
    session.add(product)
    await session.flush()
    await _product_event(session, product, "card_product.created", actor, now)
    return product


async def _product_event(
    session: AsyncSession,
    product: CardProduct,
    type: str,
    actor: str,
    now: datetime,
    **data: object,
) -> None:
    await record_event(
        session,
        type=type,
        object_type="card_product",
        object_id=product.id,
        actor=actor,
        now=now,
        merchant_id=product.merchant_id,
        data={"status": product.status, **data},
    )


async def get_product(
    session: AsyncSession, product_id: str, *, merchant_id: str | None = None, lock: bool = False
) -> CardProduct:
    """A product, scoped to ``merchant_id`` when given (another merchant's: not found)."""
    statement = select(CardProduct).where(CardProduct.id == product_id)
    if merchant_id is not None:
        statement = statement.where(CardProduct.merchant_id == merchant_id)
    if lock:
        statement = statement.with_for_update()
    product = (await session.execute(statement)).scalar_one_or_none()
    if product is None:
        raise CardProductNotFound("No such card product.", param="product_id")
    return product


def _move(product: CardProduct, allowed: set[str], target: ProductStatus, now: datetime) -> None:
    if product.status not in allowed:
        raise IllegalProductTransition(
            f"A {product.status} product cannot become {target.value}.",
            details={"status": product.status, "target": target.value},
        )
    product.status = target
    product.updated_at = now


# which status each action of a product's page starts from (``_move`` enforces it)
PRODUCT_ACTIONS: dict[str, frozenset[ProductStatus]] = {
    "submit": frozenset({ProductStatus.DRAFT, ProductStatus.REJECTED}),
    "approve": frozenset({ProductStatus.PENDING_REVIEW}),
    "reject": frozenset({ProductStatus.PENDING_REVIEW}),
}


def available_actions(product: CardProduct) -> list[str]:
    """The actions ``product``'s status allows: submit (its merchant), approve or reject
    (the platform); the caller's role narrows them further."""
    return [action for action, allowed in PRODUCT_ACTIONS.items() if product.status in allowed]


async def submit_product(
    session: AsyncSession, product_id: str, *, merchant_id: str | None, actor: str, now: datetime
) -> CardProduct:
    product = await get_product(session, product_id, merchant_id=merchant_id, lock=True)
    _move(product, {ProductStatus.DRAFT, ProductStatus.REJECTED}, ProductStatus.PENDING_REVIEW, now)
    await ensure_product_acceptance(session, product)
    await _product_event(session, product, "card_product.submitted", actor, now)
    return product


async def review_product(
    session: AsyncSession,
    product_id: str,
    *,
    is_approved: bool,
    note: str | None,
    principal: Principal,
    now: datetime,
) -> CardProduct:
    """The platform's decision. Approval re-checks the regulation as it stands today and
    the acceptance agreements the product relies on (one revoked since: refused)."""
    if not is_approved and not (note and note.strip()):
        raise InvalidCardProduct("A rejection needs a note for the issuer.", param="note")
    product = await get_product(session, product_id, lock=True)
    target = ProductStatus.ACTIVE if is_approved else ProductStatus.REJECTED
    if is_approved:
        rules = await get_regulation(session, now)
        breaches = regulation_breaches(product_spec(product), rules)
        if breaches:
            raise regulation_violation(breaches)
        await ensure_product_acceptance(session, product)
    _move(product, {ProductStatus.PENDING_REVIEW}, target, now)
    product.review_note = note
    product.reviewed_by = principal.actor
    product.reviewed_at = now
    event = "card_product.approved" if is_approved else "card_product.rejected"
    await _product_event(session, product, event, principal.actor, now, note=note)
    return product


def product_spec(product: CardProduct) -> ProductSpec:
    """The terms a product was created with (to re-check them against today's rules)."""
    terms = {term.name: getattr(product, term.name) for term in fields(ProductSpec)}
    return ProductSpec(**terms | {"exchange_ratio": parse_ratio(product.exchange_ratio)})


def product_capacity(product: CardProduct) -> int:
    return numbers.capacity(product.bin_prefix, product.number_length)


def products_query(
    *, merchant_id: str | None, status: str | None = None
) -> Select[tuple[CardProduct]]:
    """Products of ``merchant_id`` (``None``: every merchant), optionally of one status."""
    statement = select(CardProduct)
    if merchant_id is not None:
        statement = statement.where(CardProduct.merchant_id == merchant_id)
    if status is not None:
        statement = statement.where(CardProduct.status == status)
    return statement


async def list_products(
    session: AsyncSession, *, merchant_id: str | None, status: str | None = None
) -> list[CardProduct]:
    statement = products_query(merchant_id=merchant_id, status=status)
    return list((await session.execute(statement.order_by(CardProduct.id.desc()))).scalars())
