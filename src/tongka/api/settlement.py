"""``/v1/contracts``, ``/v1/settlement_batches`` (+ lines, CSV and PDF statements), ``/v1/payouts``.

A merchant's managers read their own; the platform reads all (``?merchant_id=``) and its
finance staff write contracts. Every lookup is scoped: another merchant's id is a 404.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field
from sqlalchemy import select

from tongka.api.cards.common import money
from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.pagination import ListResponse, PageParamsDep, fetch_page
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, ObjectId, RequestModel, ResponseModel
from tongka.identity.principal import Principal
from tongka.money import MoneyModel, Rounding
from tongka.policy import Action, scope_of
from tongka.settlement import contracts
from tongka.settlement.contracts import BankAccount, ContractTerms
from tongka.settlement.errors import BatchNotFound, ContractNotFound, PayoutNotFound
from tongka.settlement.fee_terms import FeeKind, FeeTerms
from tongka.settlement.models import MerchantContract, Payout, SettlementBatch, SettlementLine
from tongka.settlement.statement_pdf import statement_pdf
from tongka.settlement.statements import MAX_LINES, batch_lines, statement_csv

router = APIRouter(tags=["settlement"], route_class=IdempotentRoute, responses=ERROR_RESPONSES)


class FeeTermsIn(RequestModel):
    rate: Decimal = Field(ge=0, lt=Decimal("0.2"), description="A fraction: 0.006 is 0.6 %.")
    minimum: int = Field(default=0, ge=0, le=1_000_000, description="Minor units.")
    fixed: int = Field(default=0, ge=0, le=1_000_000, description="Minor units.")
    rounding: Literal["half_up", "half_even", "down", "up"] = "half_up"


class BankAccountIn(RequestModel):
    bank_name: str = Field(min_length=1, max_length=200)
    account_name: str = Field(min_length=1, max_length=200)
    account_number: str = Field(pattern=r"^[0-9 ]{8,40}$")


class ContractIn(RequestModel):
    merchant_id: str = Field(pattern=ID_PATTERN)
    effective_date: date
    currency: Literal["CNY"] = "CNY"
    fees: dict[FeeKind, FeeTermsIn] = Field(default_factory=dict)
    cycle_days: Literal[0, 1, 3, 7] = 1
    minimum_payout: int = Field(default=0, ge=0, le=10**10)
    reserve_percent: Decimal = Field(default=Decimal(0), ge=0, lt=Decimal("0.2"))
    reserve_days: int = Field(default=0, ge=0, le=180)
    bank_account: BankAccountIn


class FeeTermsOut(ResponseModel):
    rate: str
    minimum: int
    fixed: int
    rounding: str


class ContractOut(ResponseModel):
    object: Literal["contract"] = "contract"
    id: str
    merchant_id: str
    version: int
    effective_date: date
    currency: str
    fees: dict[str, FeeTermsOut]
    cycle: str
    minimum_payout: MoneyModel
    reserve_percent: str
    reserve_days: int
    bank_name: str
    account_name: str
    account_number: str  # masked
    created_at: datetime

    @classmethod
    def of(cls, row: MerchantContract) -> ContractOut:
        return cls(
            id=row.id,
            merchant_id=row.merchant_id,
            version=row.version,
            effective_date=row.effective_date,
            currency=row.currency,
            fees={kind: FeeTermsOut(**terms) for kind, terms in row.fees.items()},
            cycle=f"T+{row.cycle_days}",
            minimum_payout=money(row.minimum_payout, row.currency),
            reserve_percent=row.reserve_percent,
            reserve_days=row.reserve_days,
            bank_name=row.bank_name,
            account_name=row.account_name,
            account_number=contracts.masked_account(row),
            created_at=row.created_at,
        )


class BatchOut(ResponseModel):
    object: Literal["settlement_batch"] = "settlement_batch"
    id: str
    merchant_id: str
    business_date: date
    contract_id: str | None
    movements: MoneyModel
    carried_in: MoneyModel
    reserve_held: MoneyModel
    reserve_released: MoneyModel
    net: MoneyModel
    line_count: int
    payout_date: date
    payout_status: str
    carry_reason: str | None
    carried_into_batch_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: SettlementBatch) -> BatchOut:
        c = row.currency
        return cls(
            id=row.id,
            merchant_id=row.merchant_id,
            business_date=row.business_date,
            contract_id=row.contract_id,
            movements=money(row.movements, c),
            carried_in=money(row.carried_in, c),
            reserve_held=money(row.reserve_held, c),
            reserve_released=money(row.reserve_released, c),
            net=money(row.net, c),
            line_count=row.line_count,
            payout_date=row.payout_date,
            payout_status=row.payout_status,
            carry_reason=row.carry_reason,
            carried_into_batch_id=row.carried_into_batch_id,
            created_at=row.created_at,
        )


class LineOut(ResponseModel):
    object: Literal["settlement_line"] = "settlement_line"
    id: int
    kind: str
    transfer_id: str | None
    source_id: str | None
    reference: str | None
    amount: MoneyModel
    fee: MoneyModel
    occurred_at: datetime


class LinesOut(ResponseModel):
    object: Literal["list"] = "list"
    data: list[LineOut]
    has_more: bool


class PayoutOut(ResponseModel):
    object: Literal["payout"] = "payout"
    id: str
    batch_id: str
    merchant_id: str
    amount: MoneyModel
    status: str
    account_number: str  # masked
    channel_reference: str | None
    failure_reason: str | None
    transfer_id: str | None
    return_transfer_id: str | None
    payout_file: str | None = Field(
        default=None,
        description="The bank batch payment file (批量代付文件) it went out in, if any.",
    )
    created_at: datetime

    @classmethod
    def of(cls, row: Payout) -> PayoutOut:
        return cls(
            id=row.id,
            batch_id=row.batch_id,
            merchant_id=row.merchant_id,
            amount=money(row.amount, row.currency),
            status=row.status,
            account_number=f"**** **** **** {row.account_last4}",
            channel_reference=row.channel_reference,
            failure_reason=row.failure_reason,
            transfer_id=row.transfer_id,
            return_transfer_id=row.return_transfer_id,
            payout_file=row.payout_file,
            created_at=row.created_at,
        )


def _merchant_filter(principal: Principal, requested: str | None) -> str | None:
    """The merchant a list shows: a merchant caller's own; the platform's choice."""
    return scope_of(principal).merchant() or requested


def _visible(principal: Principal, merchant_id: str) -> bool:
    return scope_of(principal).reaches(merchant_id=merchant_id)


@router.get("/v1/contracts", summary="Merchant contracts, every version")
async def list_contracts(
    principal: Annotated[Principal, Authorized(Action.CONTRACT_READ)],
    session: SessionDep,
    page: PageParamsDep,
    merchant_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> ListResponse[ContractOut]:
    statement = select(MerchantContract)
    shown = _merchant_filter(principal, merchant_id)
    if shown is not None:
        statement = statement.where(MerchantContract.merchant_id == shown)
    return await fetch_page(session, statement, page, MerchantContract, ContractOut.of)


@router.post("/v1/contracts", status_code=201, summary="Write a merchant's next contract version")
async def create_contract(
    body: ContractIn,
    principal: Annotated[Principal, Authorized(Action.CONTRACT_MANAGE)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ContractOut:
    rounding = {
        "half_up": Rounding.HALF_UP,
        "half_even": Rounding.HALF_EVEN,
        "down": Rounding.DOWN,
        "up": Rounding.UP,
    }
    row = await contracts.create_contract(
        session,
        ContractTerms(
            merchant_id=body.merchant_id,
            effective_date=body.effective_date,
            bank_account=BankAccount(**body.bank_account.model_dump()),
            fees={
                kind: FeeTerms(terms.rate, terms.minimum, terms.fixed, rounding[terms.rounding])
                for kind, terms in body.fees.items()
            },
            currency=body.currency,
            cycle_days=body.cycle_days,
            minimum_payout=body.minimum_payout,
            reserve_percent=body.reserve_percent,
            reserve_days=body.reserve_days,
        ),
        settings=settings,
        actor=principal.actor,
        now=clock.now(),
    )
    return ContractOut.of(row)


@router.get("/v1/contracts/{contract_id}", summary="One contract version")
async def get_contract(
    contract_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.CONTRACT_READ)],
    session: SessionDep,
) -> ContractOut:
    row = await session.get(MerchantContract, contract_id)
    if row is None or not _visible(principal, row.merchant_id):
        raise ContractNotFound("No such contract.", details={"object": "contract"})
    return ContractOut.of(row)


@router.get("/v1/settlement_batches", summary="Settlement batches (结算单), newest first")
async def list_batches(
    principal: Annotated[Principal, Authorized(Action.SETTLEMENT_READ)],
    session: SessionDep,
    page: PageParamsDep,
    merchant_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    business_date: date | None = None,
) -> ListResponse[BatchOut]:
    statement = select(SettlementBatch)
    shown = _merchant_filter(principal, merchant_id)
    if shown is not None:
        statement = statement.where(SettlementBatch.merchant_id == shown)
    if business_date is not None:
        statement = statement.where(SettlementBatch.business_date == business_date)
    return await fetch_page(session, statement, page, SettlementBatch, BatchOut.of)


async def _batch(session: SessionDep, principal: Principal, batch_id: str) -> SettlementBatch:
    row = await session.get(SettlementBatch, batch_id)
    if row is None or not _visible(principal, row.merchant_id):
        raise BatchNotFound("No such settlement batch.", details={"object": "settlement_batch"})
    return row


@router.get("/v1/settlement_batches/{batch_id}", summary="One settlement batch")
async def get_batch(
    batch_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.SETTLEMENT_READ)],
    session: SessionDep,
) -> BatchOut:
    return BatchOut.of(await _batch(session, principal, batch_id))


def _line_out(line: SettlementLine, currency: str) -> LineOut:
    return LineOut(
        id=line.id,
        kind=line.kind,
        transfer_id=line.transfer_id,
        source_id=line.source_id,
        reference=line.reference,
        amount=money(line.amount, currency),
        fee=money(line.fee, currency),
        occurred_at=line.occurred_at,
    )


@router.get(
    "/v1/settlement_batches/{batch_id}/lines", summary="A batch's lines, each naming its transfer"
)
async def list_lines(
    batch_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.SETTLEMENT_READ)],
    session: SessionDep,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="The last line id of the previous page.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LINES)] = 100,
) -> LinesOut:
    batch = await _batch(session, principal, batch_id)
    lines = await batch_lines(session, batch.id, after=after, limit=limit + 1)
    return LinesOut(
        data=[_line_out(line, batch.currency) for line in lines[:limit]],
        has_more=len(lines) > limit,
    )


@router.get(
    "/v1/settlement_batches/{batch_id}/statement.csv",
    summary="The batch's statement (对账单) as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_statement(
    batch_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.SETTLEMENT_READ)],
    session: SessionDep,
) -> Response:
    batch = await _batch(session, principal, batch_id)
    return Response(
        await statement_csv(session, batch),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{batch.id}.csv"'},
    )


@router.get(
    "/v1/settlement_batches/{batch_id}/statement.pdf",
    summary="The batch's statement (对账单) as PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_statement_pdf(
    batch_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.SETTLEMENT_READ)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    batch = await _batch(session, principal, batch_id)
    return Response(
        await statement_pdf(session, batch, timezone=settings.timezone),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="statement-{batch.id}.pdf"'},
    )


@router.get("/v1/payouts", summary="Payouts of settlement batches, newest first")
async def list_payouts(
    principal: Annotated[Principal, Authorized(Action.PAYOUT_READ)],
    session: SessionDep,
    page: PageParamsDep,
    merchant_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    batch_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> ListResponse[PayoutOut]:
    statement = select(Payout)
    shown = _merchant_filter(principal, merchant_id)
    if shown is not None:
        statement = statement.where(Payout.merchant_id == shown)
    if batch_id is not None:
        statement = statement.where(Payout.batch_id == batch_id)
    return await fetch_page(session, statement, page, Payout, PayoutOut.of)


@router.get("/v1/payouts/{payout_id}", summary="One payout")
async def get_payout(
    payout_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.PAYOUT_READ)],
    session: SessionDep,
) -> PayoutOut:
    row = await session.get(Payout, payout_id)
    if row is None or not _visible(principal, row.merchant_id):
        raise PayoutNotFound("No such payout.", details={"object": "payout"})
    return PayoutOut.of(row)
