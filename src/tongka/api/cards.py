"""``/v1/card_products``, ``/v1/cards``, ``/v1/card_batches``, ``/v1/balance_inquiries``.

Thin: validate, scope to the caller, call ``tongka.cards.service``, shape the answer. A
full card number or secret appears only in the response that issues the card (and in the
one-time batch export); everywhere else numbers are masked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from tongka.api.auth import PrincipalDep, list_scope, require_merchant, require_platform
from tongka.api.callers import client_address
from tongka.api.deps import ClockDep, DatabaseDep, SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.api.identity.schemas import fetch_page
from tongka.api.pagination import ListResponse, PageParamsDep, apply_page, make_list_response
from tongka.api.schemas import ID_PATTERN, ObjectId, RequestModel
from tongka.cards import numbers, service
from tongka.cards.keys import card_keys
from tongka.cards.models import Card, CardBatch, CardProduct
from tongka.identity.principal import Principal, PrincipalKind

MAX_MINOR = 10**15  # minor units: far above any card, well inside a 64-bit column
router = APIRouter(responses=ERROR_RESPONSES, tags=["cards"], route_class=IdempotentRoute)
# The balance inquiry creates nothing and must commit its attempt counters even when it
# refuses, so it runs in its own transaction, outside the idempotency mechanism.
public_router = APIRouter(responses=ERROR_RESPONSES, tags=["cards"], route_class=UnitOfWorkRoute)

ManagerDep = Annotated[Principal, require_merchant("merchant_admin", "full")]
PlatformDep = Annotated[Principal, require_platform("admin")]
FinanceDep = Annotated[Principal, require_platform("admin", "finance")]


# --- scoping -----------------------------------------------------------------------------


def holder_scope(principal: Principal) -> str | None:
    """A signed-in consumer sees only the cards they hold."""
    if principal.kind is PrincipalKind.CONSUMER:
        return principal.consumer_id or "-"
    return None


@dataclass(frozen=True)
class CardScope:
    merchant_id: str | None
    holder_id: str | None


def card_scope(principal: Principal) -> CardScope:
    """Merchants see their issuer's cards, consumers the cards they hold, the platform all."""
    if principal.kind is PrincipalKind.CONSUMER:
        return CardScope(merchant_id=None, holder_id=holder_scope(principal))
    return CardScope(merchant_id=list_scope(principal), holder_id=None)


# --- products ----------------------------------------------------------------------------


class ProductCreate(RequestModel):
    name: str = Field(min_length=1, max_length=120, description="Shown to buyers (卡种名称).")
    currency: str = Field(default="CNY", pattern="^[A-Z]{3}$")
    bin_prefix: str = Field(pattern="^[0-9]{6,8}$", description="BIN (卡BIN), 6–8 digits.")
    number_length: int = Field(ge=16, le=19)
    max_balance: int = Field(gt=0, le=MAX_MINOR, description="Minor units.")
    is_named: bool = Field(description="记名卡 (true) or 不记名卡 (false).")
    form: service.CardForm = service.CardForm.VIRTUAL
    face_values: list[Annotated[int, Field(gt=0, le=MAX_MINOR)]] | None = Field(
        default=None, max_length=50, description="Fixed face values (minor units)."
    )
    face_value_min: int | None = Field(default=None, gt=0, le=MAX_MINOR)
    face_value_max: int | None = Field(default=None, gt=0, le=MAX_MINOR)
    is_top_up_allowed: bool = True
    validity_months: int | None = Field(
        default=None, ge=1, le=1200, description="From activation; null: none."
    )
    acceptance: service.Acceptance = service.Acceptance.ISSUER_STORES
    accepted_store_ids: list[str] = []
    accepted_merchant_ids: list[str] = []
    breakage_policy: service.BreakagePolicy = service.BreakagePolicy.FORFEIT
    exchange_grace_days: int | None = Field(default=None, ge=1, le=3650)
    exchange_ratio: Decimal | None = Field(
        default=None, gt=0, le=1, max_digits=8, allow_inf_nan=False, description='e.g. "0.9".'
    )

    def to_spec(self) -> service.ProductSpec:
        return service.ProductSpec(**self.model_dump())


class ProductOut(BaseModel):
    object: Literal["card_product"] = "card_product"
    id: str
    merchant_id: str
    name: str
    currency: str
    status: str
    bin_prefix: str
    number_length: int
    issued_count: int
    capacity: int
    face_values: list[int] | None
    face_value_min: int | None
    face_value_max: int | None
    is_top_up_allowed: bool
    max_balance: int
    is_named: bool
    validity_months: int | None
    acceptance: str
    accepted_store_ids: list[str]
    accepted_merchant_ids: list[str]
    breakage_policy: str
    exchange_grace_days: int | None
    exchange_ratio: str | None
    form: str
    review_note: str | None
    reviewed_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, product: CardProduct) -> ProductOut:
        fields = {
            name: getattr(product, name)
            for name in cls.model_fields
            if name not in ("object", "capacity")
        }
        return cls(**fields, capacity=numbers.capacity(product.bin_prefix, product.number_length))


class ReviewRequest(RequestModel):
    note: str | None = Field(default=None, max_length=1000)


@router.post("/v1/card_products", status_code=201, summary="Define a card product (卡种)")
async def create_product(
    body: ProductCreate, principal: ManagerDep, session: SessionDep, clock: ClockDep
) -> ProductOut:
    product = await service.create_product(
        session, str(principal.merchant_id), body.to_spec(), actor=principal.actor, now=clock.now()
    )
    return ProductOut.of(product)


@router.get("/v1/card_products", summary="List card products")
async def list_products(
    principal: PrincipalDep,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[service.ProductStatus | None, Query()] = None,
) -> ListResponse[ProductOut]:
    statement = service.products_query(
        merchant_id=list_scope(principal), status=status.value if status else None
    )
    return await fetch_page(session, statement, page, CardProduct, ProductOut.of)


@router.get("/v1/card_products/{product_id}", summary="One card product")
async def get_product(
    product_id: ObjectId, principal: PrincipalDep, session: SessionDep
) -> ProductOut:
    product = await service.get_product(session, product_id, merchant_id=list_scope(principal))
    return ProductOut.of(product)


@router.post("/v1/card_products/{product_id}/submit", summary="Submit for the platform's review")
async def submit_product(
    product_id: ObjectId, principal: ManagerDep, session: SessionDep, clock: ClockDep
) -> ProductOut:
    product = await service.submit_product(
        session,
        product_id,
        merchant_id=principal.merchant_id,
        actor=principal.actor,
        now=clock.now(),
    )
    return ProductOut.of(product)


async def _review(
    product_id: ObjectId,
    body: ReviewRequest,
    principal: Principal,
    session: Any,
    now: datetime,
    *,
    is_approved: bool,
) -> ProductOut:
    product = await service.review_product(
        session, product_id, is_approved=is_approved, note=body.note, principal=principal, now=now
    )
    return ProductOut.of(product)


@router.post("/v1/card_products/{product_id}/approve", summary="Platform: approve a product")
async def approve_product(
    product_id: ObjectId,
    body: ReviewRequest,
    principal: PlatformDep,
    session: SessionDep,
    clock: ClockDep,
) -> ProductOut:
    return await _review(product_id, body, principal, session, clock.now(), is_approved=True)


@router.post("/v1/card_products/{product_id}/reject", summary="Platform: reject a product")
async def reject_product(
    product_id: ObjectId,
    body: ReviewRequest,
    principal: PlatformDep,
    session: SessionDep,
    clock: ClockDep,
) -> ProductOut:
    return await _review(product_id, body, principal, session, clock.now(), is_approved=False)


# --- cards -------------------------------------------------------------------------------


class BalanceOut(BaseModel):
    paid: int
    bonus: int
    total: int
    currency: str


class CardOut(BaseModel):
    object: Literal["card"] = "card"
    id: str
    merchant_id: str
    product_id: str
    batch_id: str | None
    masked_number: str
    last4: str
    status: str
    currency: str
    face_value: int
    balance: BalanceOut
    holder_id: str | None
    replaced_by_card_id: str | None
    activated_at: datetime | None
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, card: Card, balance: service.CardBalance) -> CardOut:
        return cls(
            id=card.id,
            merchant_id=card.merchant_id,
            product_id=card.product_id,
            batch_id=card.batch_id,
            masked_number=numbers.mask(card.bin_prefix, card.last4, card.number_length),
            last4=card.last4,
            status=card.status,
            currency=card.currency,
            face_value=card.face_value,
            balance=BalanceOut(
                paid=balance.paid, bonus=balance.bonus, total=balance.total, currency=card.currency
            ),
            holder_id=card.holder_id,
            replaced_by_card_id=card.replaced_by_card_id,
            activated_at=card.activated_at,
            expires_at=card.expires_at,
            created_at=card.created_at,
        )


class IssuedCardOut(CardOut):
    """The only answer that carries the full number and the secret: keep it safe."""

    number: str
    secret: str

    @classmethod
    def of_issued(cls, issued: service.IssuedCard) -> IssuedCardOut:
        shown = CardOut.of(issued.card, service.CardBalance(paid=0, bonus=0)).model_dump()
        shown.pop("object")
        return cls(**shown, number=issued.number, secret=issued.secret)


class CardIssue(RequestModel):
    product_id: str = Field(pattern=ID_PATTERN, examples=["cpr_01j9z3k4"])
    face_value: int = Field(
        gt=0, le=MAX_MINOR, description="Minor units; one of the product's face values."
    )
    holder_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="Consumer (con_...)."
    )


class ReasonRequest(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class MergeRequest(RequestModel):
    source_card_ids: list[str] = Field(min_length=1, max_length=50)


@router.post("/v1/cards", status_code=201, summary="Issue one card (number and secret shown once)")
async def issue_card(
    body: CardIssue,
    principal: ManagerDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> IssuedCardOut:
    issued = await service.issue_card(
        session,
        body.product_id,
        merchant_id=principal.merchant_id,
        face_value=body.face_value,
        holder_id=body.holder_id,
        keys=card_keys(settings),
        actor=principal.actor,
        now=clock.now(),
    )
    return IssuedCardOut.of_issued(issued)


async def _card_out(session: Any, card: Card) -> CardOut:
    return CardOut.of(card, await service.card_balance(session, card))


@router.get("/v1/cards", summary="List cards (search by last four digits, holder, product)")
async def list_cards(
    principal: PrincipalDep,
    session: SessionDep,
    page: PageParamsDep,
    last4: Annotated[str | None, Query(pattern="^[0-9]{4}$")] = None,
    holder_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    product_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    batch_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    status: Annotated[service.CardStatus | None, Query()] = None,
) -> ListResponse[CardOut]:
    scope = card_scope(principal)
    statement = service.cards_query(
        merchant_id=scope.merchant_id,
        holder_id=scope.holder_id or holder_id,
        last4=last4,
        product_id=product_id,
        batch_id=batch_id,
        status=status,
    )
    statement = apply_page(statement, page, id_column=Card.id, created_column=Card.created_at)
    cards = list((await session.execute(statement)).scalars().all())
    balances = await service.card_balances(session, cards[: page.limit])
    return make_list_response(cards, page, lambda card: CardOut.of(card, balances[card.id]))


@router.get("/v1/cards/{card_id}", summary="One card with its balance")
async def get_card(card_id: ObjectId, principal: PrincipalDep, session: SessionDep) -> CardOut:
    card = await service.get_card(session, card_id, **vars(card_scope(principal)))
    return await _card_out(session, card)


@router.post("/v1/cards/{card_id}/activate", summary="Activate an issued card without money")
async def activate_card(
    card_id: ObjectId,
    body: ReasonRequest,
    principal: ManagerDep,
    session: SessionDep,
    clock: ClockDep,
) -> CardOut:
    """For cards given away empty (member cards); sold cards are activated by their sale."""
    card = await service.activate_card(
        session,
        card_id,
        merchant_id=principal.merchant_id,
        actor=principal.actor,
        now=clock.now(),
        reason=body.reason,
    )
    return await _card_out(session, card)


LIFECYCLE_SUMMARIES = {
    "freeze": "Freeze a card (冻结): no value may leave it",
    "unfreeze": "Unfreeze a frozen card",
    "report_lost": "Report a card lost (挂失)",
    "close": "Close an empty card",
}


def _lifecycle_endpoint(action: str) -> Any:
    async def endpoint(
        card_id: ObjectId,
        body: ReasonRequest,
        principal: PrincipalDep,
        session: SessionDep,
        clock: ClockDep,
    ) -> CardOut:
        card = await service.apply_lifecycle_action(
            session,
            card_id,
            action,
            **vars(card_scope(principal)),
            actor=principal.actor,
            now=clock.now(),
            reason=body.reason,
        )
        return await _card_out(session, card)

    endpoint.__name__ = f"{action}_card"
    return endpoint


for _action in service.LIFECYCLE_ACTIONS:
    router.add_api_route(
        f"/v1/cards/{{card_id}}/{_action}",
        _lifecycle_endpoint(_action),
        methods=["POST"],
        summary=LIFECYCLE_SUMMARIES[_action],
        response_model=CardOut,
    )


@router.post(
    "/v1/cards/{card_id}/reissue",
    status_code=201,
    summary="Reissue a lost card (补卡): new number and secret shown once, balance moved",
)
async def reissue_card(
    card_id: ObjectId,
    body: ReasonRequest,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> IssuedCardOut:
    issued = await service.reissue_card(
        session,
        card_id,
        merchant_id=list_scope(principal),
        keys=card_keys(settings),
        actor=principal.actor,
        now=clock.now(),
        reason=body.reason,
    )
    out = IssuedCardOut.of_issued(issued)
    balance = await service.card_balance(session, issued.card)
    out.balance = BalanceOut(
        paid=balance.paid, bonus=balance.bonus, total=balance.total, currency=issued.card.currency
    )
    return out


@router.post("/v1/cards/{card_id}/merge", summary="Merge other cards into this one (并卡)")
async def merge_cards(
    card_id: ObjectId,
    body: MergeRequest,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
) -> CardOut:
    card = await service.merge_cards(
        session,
        card_id,
        body.source_card_ids,
        **vars(card_scope(principal)),
        actor=principal.actor,
        now=clock.now(),
    )
    return await _card_out(session, card)


class CardTransactionOut(BaseModel):
    object: Literal["card_transaction"] = "card_transaction"
    transfer_id: str
    sequence: int
    part: str
    amount: int = Field(description="Signed: + onto the card, - off it. Minor units.")
    currency: str
    code: str
    reference: str | None
    created_at: datetime


class CardTransactionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CardTransactionOut]
    has_more: bool
    next_after_sequence: int | None


@router.get("/v1/cards/{card_id}/transactions", summary="A card's transaction history")
async def card_transactions(
    card_id: ObjectId,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after_sequence: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> CardTransactionList:
    card = await service.get_card(session, card_id, **vars(card_scope(principal)))
    page = await service.card_history(session, card, limit=limit, after_sequence=after_sequence)
    data = [
        CardTransactionOut(
            transfer_id=item.transfer.transfer_id,
            sequence=item.transfer.sequence,
            part=item.part,
            amount=item.amount,
            currency=item.transfer.currency,
            code=item.transfer.code,
            reference=item.transfer.reference,
            created_at=item.transfer.created_at,
        )
        for item in page.data
    ]
    return CardTransactionList(
        data=data,
        has_more=page.has_more,
        next_after_sequence=data[-1].sequence if page.has_more and data else None,
    )


# --- batches -----------------------------------------------------------------------------


class BatchCreate(RequestModel):
    product_id: str = Field(pattern=ID_PATTERN, examples=["cpr_01j9z3k4"])
    count: int = Field(ge=1, le=100_000)
    face_value: int = Field(gt=0, le=MAX_MINOR)
    export_password: str = Field(
        min_length=12, max_length=200, description="Encrypts the one-time export; not stored."
    )
    reference: str | None = Field(default=None, max_length=128, description="e.g. the order.")


class BatchOut(BaseModel):
    object: Literal["card_batch"] = "card_batch"
    id: str
    merchant_id: str
    product_id: str
    face_value: int
    currency: str
    total: int
    issued_count: int
    status: str
    reference: str | None
    is_export_available: bool
    funding_reference: str | None
    funded_at: datetime | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, batch: CardBatch) -> BatchOut:
        return cls(
            id=batch.id,
            merchant_id=batch.merchant_id,
            product_id=batch.product_id,
            face_value=batch.face_value,
            currency=batch.currency,
            total=batch.total,
            issued_count=batch.issued_count,
            status=batch.status,
            reference=batch.reference,
            is_export_available=batch.status == "completed" and batch.exported_at is None,
            funding_reference=batch.funding_reference,
            funded_at=batch.funded_at,
            created_at=batch.created_at,
            completed_at=batch.completed_at,
        )


class ExportOut(BaseModel):
    object: Literal["card_export"] = "card_export"
    batch_id: str
    filename: str
    content: str = Field(description="Decrypt with `tongka cards decrypt-export`.")


class BatchFunding(RequestModel):
    transfer_reference: str = Field(min_length=1, max_length=128)
    amount: int = Field(
        gt=0, le=MAX_MINOR, description="Minor units; must equal the batch's value exactly."
    )


@router.post("/v1/card_batches", status_code=202, summary="Start a batch issue (worker runs it)")
async def create_batch(
    body: BatchCreate, principal: ManagerDep, session: SessionDep, clock: ClockDep
) -> BatchOut:
    batch = await service.create_batch(
        session,
        body.product_id,
        merchant_id=principal.merchant_id,
        count=body.count,
        face_value=body.face_value,
        export_password=body.export_password,
        reference=body.reference,
        actor=principal.actor,
        now=clock.now(),
    )
    return BatchOut.of(batch)


@router.get("/v1/card_batches", summary="List batches with their progress")
async def list_batches(
    principal: PrincipalDep, session: SessionDep, page: PageParamsDep
) -> ListResponse[BatchOut]:
    statement = service.batches_query(merchant_id=list_scope(principal))
    return await fetch_page(session, statement, page, CardBatch, BatchOut.of)


@router.get("/v1/card_batches/{batch_id}", summary="One batch and its progress")
async def get_batch(batch_id: ObjectId, principal: PrincipalDep, session: SessionDep) -> BatchOut:
    return BatchOut.of(
        await service.get_batch(session, batch_id, merchant_id=list_scope(principal))
    )


@router.post("/v1/card_batches/{batch_id}/export", summary="Take the one-time encrypted export")
async def take_export(
    batch_id: ObjectId, principal: ManagerDep, session: SessionDep, clock: ClockDep
) -> ExportOut:
    content = await service.take_export(
        session,
        batch_id,
        merchant_id=principal.merchant_id,
        actor=principal.actor,
        now=clock.now(),
    )
    return ExportOut(batch_id=batch_id, filename=f"{batch_id}.tkx", content=content)


@router.post(
    "/v1/card_batches/{batch_id}/activate",
    summary="Finance: activate a batch paid by bank transfer (one ledger transaction)",
)
async def activate_batch(
    batch_id: ObjectId,
    body: BatchFunding,
    principal: FinanceDep,
    session: SessionDep,
    clock: ClockDep,
) -> BatchOut:
    batch = await service.fund_batch(
        session,
        batch_id,
        transfer_reference=body.transfer_reference,
        amount=body.amount,
        actor=principal.actor,
        now=clock.now(),
    )
    return BatchOut.of(batch)


# --- quotas ------------------------------------------------------------------------------


class QuotaSet(RequestModel):
    merchant_id: str = Field(pattern=ID_PATTERN, examples=["mch_01j9z3k4"])
    currency: str = Field(default="CNY", pattern="^[A-Z]{3}$")
    quota: int = Field(
        ge=0, le=MAX_MINOR, description="Minor units the issuer's cards may hold in total."
    )


class QuotaOut(BaseModel):
    object: Literal["card_issuer_quota"] = "card_issuer_quota"
    merchant_id: str
    currency: str
    quota: int
    outstanding: int


@router.post("/v1/card_issuer_quotas", summary="Platform: grant an issuer its quota (额度)")
async def set_quota(
    body: QuotaSet, principal: PlatformDep, session: SessionDep, clock: ClockDep
) -> QuotaOut:
    row = await service.set_quota(
        session,
        body.merchant_id,
        body.currency,
        body.quota,
        actor=principal.actor,
        now=clock.now(),
    )
    outstanding = await service.outstanding_balance(session, body.merchant_id, body.currency)
    return QuotaOut(
        merchant_id=row.merchant_id,
        currency=row.currency,
        quota=row.quota,
        outstanding=outstanding,
    )


# --- the regulation ----------------------------------------------------------------------


class RegulationBody(RequestModel):
    """单用途商业预付卡管理办法（试行） as the platform enforces it (amounts in minor units)."""

    is_enforced: bool = True
    anonymous_max_balance: int = Field(
        default=100_000, gt=0, le=MAX_MINOR, description="第二十一条"
    )
    named_max_balance: int = Field(default=500_000, gt=0, le=MAX_MINOR, description="第二十一条")
    anonymous_min_validity_months: int = Field(default=36, ge=0, le=1200, description="第二十二条")
    is_named_expiry_forbidden: bool = Field(default=True, description="第二十二条")


class RegulationOut(RegulationBody):
    object: Literal["card_regulation"] = "card_regulation"


@router.get("/v1/card_regulation", summary="The prepaid-card rules products are checked against")
async def get_regulation(
    principal: PrincipalDep, session: SessionDep, clock: ClockDep
) -> RegulationOut:
    list_scope(principal)  # staff only: consumers get 403
    return RegulationOut(**asdict(await service.get_regulation(session, clock.now())))


@router.post("/v1/card_regulation", summary="Platform: change the prepaid-card rules")
async def set_regulation(
    body: RegulationBody, principal: PlatformDep, session: SessionDep, clock: ClockDep
) -> RegulationOut:
    rules = service.RegulationRules(**body.model_dump())
    await service.set_regulation(session, rules, actor=principal.actor, now=clock.now())
    return RegulationOut(**asdict(rules))


# --- public balance inquiry --------------------------------------------------------------


class InquiryRequest(RequestModel):
    number: str = Field(min_length=12, max_length=32)
    secret: str = Field(min_length=1, max_length=32)


class InquiryOut(BaseModel):
    object: Literal["balance_inquiry"] = "balance_inquiry"
    masked_number: str
    status: str
    balance: BalanceOut
    expires_at: datetime | None


@public_router.post(
    "/v1/balance_inquiries",
    summary="Check a card's balance with its number and secret (no sign-in; strictly limited)",
)
async def balance_inquiry(
    body: InquiryRequest,
    request: Request,
    database: DatabaseDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> InquiryOut:
    client = client_address(request)
    answer = await service.inquire_balance(
        database,
        body.number,
        body.secret,
        client=client,
        keys=card_keys(settings),
        now=clock.now(),
    )
    card, balance = answer.card, answer.balance
    return InquiryOut(
        masked_number=numbers.mask(card.bin_prefix, card.last4, card.number_length),
        status=card.status,
        balance=BalanceOut(
            paid=balance.paid, bonus=balance.bonus, total=balance.total, currency=card.currency
        ),
        expires_at=card.expires_at,
    )
