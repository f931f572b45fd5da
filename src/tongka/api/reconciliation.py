"""``/v1/reconciliations`` (run a day of a channel, list, one with its report), its
exceptions, and their resolution: ``/v1/reconciliation_exceptions/{id}/resolutions``
(match by hand, or propose an adjustment) and ``/v1/reconciliation_resolutions/{id}/approve``
(a second person). Platform staff only (``reconciliation.*`` actions); reconciliation
concerns the platform's own books, no merchant's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import select

from tongka.api.cards.common import maybe_money, money
from tongka.api.errors import ERROR_RESPONSES
from tongka.api.idempotency import IdempotentRoute
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.pagination import ListResponse, PageParamsDep, fetch_page
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, MoneyModel, ObjectId, RequestModel, ResponseModel
from tongka.identity.principal import Principal
from tongka.policy import Action
from tongka.reconciliation import resolutions
from tongka.reconciliation.daily import reconcile_day
from tongka.reconciliation.kinds import (
    RUN_CHANNELS,
    ExceptionStatus,
    ResolutionMethod,
)
from tongka.reconciliation.models import (
    Approval,
    ReconciliationException,
    ReconciliationRun,
    Resolution,
)
from tongka.reconciliation.reports import Report, exceptions_of, get_run, report_of

router = APIRouter(tags=["reconciliation"], route_class=IdempotentRoute, responses=ERROR_RESPONSES)
RunChannel = Literal["wechat", "alipay", "unionpay", "bank_transfer", "reserve"]
MAX_EXCEPTIONS = 500
assert set(RUN_CHANNELS) == set(RunChannel.__args__)  # type: ignore[attr-defined]


class RunIn(RequestModel):
    statement_date: date
    channel: RunChannel


class ReportOut(ResponseModel):
    matched_count: int
    matched: MoneyModel
    unmatched_count: int
    unmatched: MoneyModel
    match_rate: str = Field(description="Percent of statement lines matched, e.g. 99.98.")
    exceptions_by_kind: dict[str, int]
    exceptions_by_status: dict[str, int]
    open_by_age: dict[str, int]


class ReconciliationOut(ResponseModel):
    object: Literal["reconciliation"] = "reconciliation"
    id: str
    channel: str
    statement_date: date
    status: str
    line_count: int
    statement_total: MoneyModel
    ledger_count: int
    ledger_total: MoneyModel
    channel_net: MoneyModel
    exception_count: int
    bank_status: str
    bank_received: MoneyModel | None
    ledger_balance: MoneyModel | None
    bank_balance: MoneyModel | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    report: ReportOut | None = None

    @classmethod
    def of(cls, run: ReconciliationRun, report: Report | None = None) -> ReconciliationOut:
        c = run.currency
        return cls(
            id=run.id,
            channel=run.channel,
            statement_date=run.statement_date,
            status=run.status,
            line_count=run.line_count,
            statement_total=money(run.channel_minor, c),
            ledger_count=run.ledger_count,
            ledger_total=money(run.ledger_minor, c),
            channel_net=money(run.channel_net_minor, c),
            exception_count=run.exception_count,
            bank_status=run.bank_status,
            bank_received=maybe_money(run.bank_minor, c),
            ledger_balance=maybe_money(run.ledger_balance_minor, c),
            bank_balance=maybe_money(run.bank_balance_minor, c),
            created_by=run.created_by,
            created_at=run.created_at,
            finished_at=run.finished_at,
            report=None if report is None else _report_out(report),
        )


def _report_out(report: Report) -> ReportOut:
    run = report.run
    return ReportOut(
        matched_count=run.matched_count,
        matched=money(run.matched_minor, run.currency),
        unmatched_count=report.unmatched_count,
        unmatched=money(report.unmatched_minor, run.currency),
        match_rate=str(report.match_rate),
        exceptions_by_kind=report.by_kind,
        exceptions_by_status=report.by_status,
        open_by_age=report.open_by_age,
    )


class ResolutionOut(ResponseModel):
    object: Literal["reconciliation_resolution"] = "reconciliation_resolution"
    id: str
    exception_id: str
    method: str
    reason: str
    matched_reference: str | None
    amount: MoneyModel | None
    debit_account_id: str | None
    credit_account_id: str | None
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    transfer_id: str | None

    @classmethod
    def of(cls, row: Resolution, approval: Approval | None) -> ResolutionOut:
        return cls(
            id=row.id,
            exception_id=row.exception_id,
            method=row.method,
            reason=row.reason,
            matched_reference=row.matched_reference,
            amount=maybe_money(row.amount_minor, row.currency),
            debit_account_id=row.debit_account_id,
            credit_account_id=row.credit_account_id,
            proposed_by=row.proposed_by,
            proposed_at=row.proposed_at,
            approved_by=approval.approved_by if approval else None,
            approved_at=approval.approved_at if approval else None,
            transfer_id=approval.transfer_id if approval else None,
        )


class ExceptionOut(ResponseModel):
    object: Literal["reconciliation_exception"] = "reconciliation_exception"
    id: str
    reconciliation_id: str
    channel: str
    statement_date: date
    kind: str
    status: str
    reference: str | None
    line_kind: str | None
    line_no: int | None
    statement_amount: MoneyModel | None
    ledger_amount: MoneyModel | None
    bank_amount: MoneyModel | None
    statement_fee: MoneyModel | None
    ledger_fee: MoneyModel | None
    ledger_date: date | None
    created_at: datetime
    resolution: ResolutionOut | None

    @classmethod
    def of(
        cls,
        row: ReconciliationException,
        resolution: Resolution | None,
        approval: Approval | None,
        status: str,
    ) -> ExceptionOut:
        c = row.currency
        return cls(
            id=row.id,
            reconciliation_id=row.run_id,
            channel=row.channel,
            statement_date=row.statement_date,
            kind=row.kind,
            status=status,
            reference=row.reference,
            line_kind=row.line_kind,
            line_no=row.line_no,
            statement_amount=maybe_money(row.channel_minor, c),
            ledger_amount=maybe_money(row.ledger_minor, c),
            bank_amount=maybe_money(row.bank_minor, c),
            statement_fee=maybe_money(row.channel_fee_minor, c),
            ledger_fee=maybe_money(row.ledger_fee_minor, c),
            ledger_date=row.ledger_date,
            created_at=row.created_at,
            resolution=None if resolution is None else ResolutionOut.of(resolution, approval),
        )


class ExceptionsOut(ResponseModel):
    object: Literal["list"] = "list"
    data: list[ExceptionOut]
    has_more: bool


class ResolutionIn(RequestModel):
    method: Literal["manual_match", "adjustment"]
    reason: str = Field(min_length=1, max_length=500)
    matched_reference: str | None = Field(default=None, max_length=64)


@router.post("/v1/reconciliations", status_code=201, summary="Reconcile a channel's day")
async def run_reconciliation(
    body: RunIn,
    principal: Annotated[Principal, Authorized(Action.RECONCILIATION_RUN)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ReconciliationOut:
    """Downloads the channel's statement of the day and matches it (or, for ``reserve``,
    the reserve account's balance against its imported bank statement). A day that ran
    answers its run."""
    now = clock.now()
    run = await reconcile_day(
        session, settings, body.channel, body.statement_date, actor=principal.actor, now=now
    )
    return ReconciliationOut.of(run, await report_of(session, run, now=now))


@router.get("/v1/reconciliations", summary="Reconciliation runs, newest first")
async def list_reconciliations(
    _: Annotated[Principal, Authorized(Action.RECONCILIATION_READ)],
    session: SessionDep,
    page: PageParamsDep,
    channel: RunChannel | None = None,
    statement_date: date | None = None,
) -> ListResponse[ReconciliationOut]:
    statement = select(ReconciliationRun)
    if channel is not None:
        statement = statement.where(ReconciliationRun.channel == channel)
    if statement_date is not None:
        statement = statement.where(ReconciliationRun.statement_date == statement_date)
    return await fetch_page(session, statement, page, ReconciliationRun, ReconciliationOut.of)


@router.get("/v1/reconciliations/{reconciliation_id}", summary="One run, with its report")
async def get_reconciliation(
    reconciliation_id: ObjectId,
    _: Annotated[Principal, Authorized(Action.RECONCILIATION_READ)],
    session: SessionDep,
    clock: ClockDep,
) -> ReconciliationOut:
    run = await get_run(session, reconciliation_id)
    return ReconciliationOut.of(run, await report_of(session, run, now=clock.now()))


@router.get(
    "/v1/reconciliations/{reconciliation_id}/exceptions",
    summary="A run's exceptions, with their resolutions",
)
async def list_exceptions(
    reconciliation_id: ObjectId,
    _: Annotated[Principal, Authorized(Action.RECONCILIATION_READ)],
    session: SessionDep,
    status: ExceptionStatus | None = None,
    after: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="The last id of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EXCEPTIONS)] = 100,
) -> ExceptionsOut:
    run = await get_run(session, reconciliation_id)
    statement = exceptions_of(run.id, status)
    if after is not None:
        statement = statement.where(ReconciliationException.id > after)
    rows = (await session.execute(statement.limit(limit + 1))).all()
    return ExceptionsOut(
        data=[ExceptionOut.of(*row) for row in rows[:limit]], has_more=len(rows) > limit
    )


async def _resolution_out(session: Any, resolution: Resolution) -> ResolutionOut:
    return ResolutionOut.of(resolution, await session.get(Approval, resolution.id))


@router.post(
    "/v1/reconciliation_exceptions/{exception_id}/resolutions",
    status_code=201,
    summary="Resolve an exception: match it by hand, or propose an adjustment",
)
async def resolve_exception(
    exception_id: ObjectId,
    body: ResolutionIn,
    principal: Annotated[Principal, Authorized(Action.RECONCILIATION_RESOLVE)],
    session: SessionDep,
    clock: ClockDep,
) -> ResolutionOut:
    resolution = await resolutions.propose(
        session,
        exception_id,
        ResolutionMethod(body.method),
        body.reason,
        actor=principal.actor,
        now=clock.now(),
        matched_reference=body.matched_reference,
    )
    return await _resolution_out(session, resolution)


@router.post(
    "/v1/reconciliation_resolutions/{resolution_id}/approve",
    summary="Approve an adjustment (not by its proposer); it posts through the ledger once",
)
async def approve_resolution(
    resolution_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.RECONCILIATION_APPROVE)],
    session: SessionDep,
    clock: ClockDep,
) -> ResolutionOut:
    await resolutions.approve(session, resolution_id, actor=principal.actor, now=clock.now())
    return await _resolution_out(session, await resolutions.get_resolution(session, resolution_id))
