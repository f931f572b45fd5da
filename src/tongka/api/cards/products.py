"""``/v1/card_products``: a merchant defines card products (卡种); the platform reviews them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from tongka.api.cards.common import (
    AmountIn,
    maybe_money,
    money,
    new_router,
    require_currency,
)
from tongka.api.identity.schemas import fetch_page
from tongka.cards import numbers, service
from tongka.cards.models import CardProduct
from tongka.currencies import EnabledCurrency
from tongka.edge.deps import ClockDep, SessionDep
from tongka.edge.pagination import ListResponse, PageParamsDep
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ObjectId, RequestModel
from tongka.identity.principal import Principal
from tongka.money import MoneyModel
from tongka.policy import Action, scope_of

router = new_router()


class ProductCreate(RequestModel):
    name: str = Field(min_length=1, max_length=120, description="Shown to buyers (卡种名称).")
    currency: EnabledCurrency = "CNY"
    bin_prefix: str = Field(pattern="^[0-9]{6,8}$", description="BIN (卡BIN), 6–8 digits.")
    number_length: int = Field(ge=16, le=19)
    max_balance: AmountIn = Field(description="In the product's currency.")
    is_named: bool = Field(description="记名卡 (true) or 不记名卡 (false).")
    form: service.CardForm = service.CardForm.VIRTUAL
    face_values: list[AmountIn] | None = Field(
        default=None, max_length=50, description="Fixed face values (in the product's currency)."
    )
    face_value_min: AmountIn | None = None
    face_value_max: AmountIn | None = None
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
    is_bonus_spent_first: bool = Field(
        default=False,
        description="Spend bonus value (充值赠送) before the paid value; default: after it.",
    )

    def to_spec(self) -> service.ProductSpec:
        """The service's spec: amounts as minor units, each checked to be in ``currency``."""
        fields = self.model_dump(
            exclude={"max_balance", "face_values", "face_value_min", "face_value_max"}
        )

        def minor(amount: AmountIn | None, param: str) -> int | None:
            return None if amount is None else require_currency(amount, self.currency, param=param)

        face_values = None
        if self.face_values is not None:
            face_values = [
                require_currency(amount, self.currency, param=f"face_values.{index}")
                for index, amount in enumerate(self.face_values)
            ]
        return service.ProductSpec(
            **fields,
            max_balance=require_currency(self.max_balance, self.currency, param="max_balance"),
            face_values=face_values,
            face_value_min=minor(self.face_value_min, "face_value_min"),
            face_value_max=minor(self.face_value_max, "face_value_max"),
        )


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
    face_values: list[MoneyModel] | None
    face_value_min: MoneyModel | None
    face_value_max: MoneyModel | None
    is_top_up_allowed: bool
    max_balance: MoneyModel
    is_named: bool
    validity_months: int | None
    acceptance: str
    accepted_store_ids: list[str]
    accepted_merchant_ids: list[str]
    breakage_policy: str
    exchange_grace_days: int | None
    exchange_ratio: str | None
    is_bonus_spent_first: bool
    form: str
    review_note: str | None
    reviewed_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, product: CardProduct) -> ProductOut:
        amounts = ("max_balance", "face_values", "face_value_min", "face_value_max")
        fields = {
            name: getattr(product, name)
            for name in cls.model_fields
            if name not in ("object", "capacity", *amounts)
        }
        currency = product.currency
        face_values = product.face_values
        return cls(
            **fields,
            capacity=numbers.capacity(product.bin_prefix, product.number_length),
            max_balance=money(product.max_balance, currency),
            face_values=None if face_values is None else [money(v, currency) for v in face_values],
            face_value_min=maybe_money(product.face_value_min, currency),
            face_value_max=maybe_money(product.face_value_max, currency),
        )


class ReviewRequest(RequestModel):
    note: str | None = Field(default=None, max_length=1000)


@router.post("/v1/card_products", status_code=201, summary="Define a card product (卡种)")
async def create_product(
    body: ProductCreate,
    principal: Annotated[Principal, Authorized(Action.PRODUCT_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> ProductOut:
    product = await service.create_product(
        session, str(principal.merchant_id), body.to_spec(), actor=principal.actor, now=clock.now()
    )
    return ProductOut.of(product)


@router.get("/v1/card_products", summary="List card products")
async def list_products(
    principal: Annotated[Principal, Authorized(Action.PRODUCT_READ)],
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[service.ProductStatus | None, Query()] = None,
) -> ListResponse[ProductOut]:
    statement = service.products_query(
        merchant_id=scope_of(principal).merchant(), status=status.value if status else None
    )
    return await fetch_page(session, statement, page, CardProduct, ProductOut.of)


@router.get("/v1/card_products/{product_id}", summary="One card product")
async def get_product(
    product_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.PRODUCT_READ)],
    session: SessionDep,
) -> ProductOut:
    product = await service.get_product(
        session, product_id, merchant_id=scope_of(principal).merchant()
    )
    return ProductOut.of(product)


@router.post("/v1/card_products/{product_id}/submit", summary="Submit for the platform's review")
async def submit_product(
    product_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.PRODUCT_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
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
    principal: Annotated[Principal, Authorized(Action.PRODUCT_REVIEW)],
    session: SessionDep,
    clock: ClockDep,
) -> ProductOut:
    return await _review(product_id, body, principal, session, clock.now(), is_approved=True)


@router.post("/v1/card_products/{product_id}/reject", summary="Platform: reject a product")
async def reject_product(
    product_id: ObjectId,
    body: ReviewRequest,
    principal: Annotated[Principal, Authorized(Action.PRODUCT_REVIEW)],
    session: SessionDep,
    clock: ClockDep,
) -> ProductOut:
    return await _review(product_id, body, principal, session, clock.now(), is_approved=False)
