"""``/v1/card_batches``: batch issue (worker runs it), the one-time export, funding."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from tongka.api.cards.common import (
    AmountIn,
    money,
    new_router,
    require_currency,
)
from tongka.api.identity.schemas import fetch_page
from tongka.cards import service
from tongka.cards.models import CardBatch
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.no_store import SecretField
from tongka.edge.pagination import ListResponse, PageParamsDep
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, ObjectId, RequestModel
from tongka.identity.principal import Principal
from tongka.money import MoneyModel
from tongka.policy import Action, scope_of

router = new_router()


class BatchCreate(RequestModel):
    product_id: str = Field(pattern=ID_PATTERN, examples=["cpr_01j9z3k4"])
    count: int = Field(ge=1, le=100_000)
    face_value: AmountIn = Field(description="One of the product's face values.")
    export_password: str = Field(
        min_length=12, max_length=200, description="Encrypts the one-time export; not stored."
    )
    reference: str | None = Field(default=None, max_length=128, description="e.g. the order.")


class BatchOut(BaseModel):
    object: Literal["card_batch"] = "card_batch"
    id: str
    merchant_id: str
    product_id: str
    face_value: MoneyModel
    currency: str
    total: MoneyModel
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
            face_value=money(batch.face_value, batch.currency),
            currency=batch.currency,
            total=money(batch.total, batch.currency),
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
    content: str = SecretField(description="Decrypt with `tongka cards decrypt-export`.")


class BatchFunding(RequestModel):
    transfer_reference: str = Field(min_length=1, max_length=128)
    amount: AmountIn = Field(description="Must equal the batch's value exactly.")


@router.post("/v1/card_batches", status_code=202, summary="Start a batch issue (worker runs it)")
async def create_batch(
    body: BatchCreate,
    principal: Annotated[Principal, Authorized(Action.BATCH_CREATE)],
    session: SessionDep,
    clock: ClockDep,
) -> BatchOut:
    product = await service.get_product(session, body.product_id, merchant_id=principal.merchant_id)
    batch = await service.create_batch(
        session,
        body.product_id,
        merchant_id=principal.merchant_id,
        count=body.count,
        face_value=require_currency(body.face_value, product.currency, param="face_value"),
        export_password=body.export_password,
        reference=body.reference,
        actor=principal.actor,
        now=clock.now(),
    )
    return BatchOut.of(batch)


@router.get("/v1/card_batches", summary="List batches with their progress")
async def list_batches(
    principal: Annotated[Principal, Authorized(Action.BATCH_READ)],
    session: SessionDep,
    page: PageParamsDep,
) -> ListResponse[BatchOut]:
    statement = service.batches_query(merchant_id=scope_of(principal).merchant())
    return await fetch_page(session, statement, page, CardBatch, BatchOut.of)


@router.get("/v1/card_batches/{batch_id}", summary="One batch and its progress")
async def get_batch(
    batch_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.BATCH_READ)],
    session: SessionDep,
) -> BatchOut:
    return BatchOut.of(
        await service.get_batch(session, batch_id, merchant_id=scope_of(principal).merchant())
    )


@router.post("/v1/card_batches/{batch_id}/export", summary="Take the one-time encrypted export")
async def take_export(
    batch_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.BATCH_EXPORT)],
    session: SessionDep,
    clock: ClockDep,
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
    principal: Annotated[Principal, Authorized(Action.BATCH_FUND)],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> BatchOut:
    funded = await service.get_batch(session, batch_id, merchant_id=None)
    batch = await service.fund_batch(
        session,
        batch_id,
        transfer_reference=body.transfer_reference,
        amount=require_currency(body.amount, funded.currency, param="amount"),
        actor=principal.actor,
        now=clock.now(),
        timezone=settings.timezone,
    )
    return BatchOut.of(batch)
