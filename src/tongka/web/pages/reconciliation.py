"""The platform's 对账 pages: runs by day and channel (and a form to run one), a run's
report with its exceptions, and the forms that resolve them: match by hand, propose an
adjustment, approve someone else's adjustment (four eyes: the service refuses the
proposer, and the page says why)."""

from __future__ import annotations

from datetime import date
from typing import IO, Annotated

from fastapi import Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from tongka.edge.schemas import ObjectId
from tongka.edge.uploads import pieces, size_of
from tongka.errors import InvalidRequest
from tongka.policy import Action
from tongka.reconciliation import resolutions
from tongka.reconciliation.daily import reconcile_day, reconcile_upload
from tongka.reconciliation.errors import StatementEmpty, StatementInvalid
from tongka.reconciliation.kinds import (
    RUN_CHANNELS,
    ExceptionKind,
    ExceptionStatus,
    ResolutionMethod,
)
from tongka.reconciliation.models import ReconciliationRun
from tongka.reconciliation.reports import (
    AGE_BUCKETS,
    exceptions_of,
    get_run,
    open_by_age,
    report_of,
)
from tongka.web.console import Console, FormDep, console_router, form_text, optional_text
from tongka.web.forms import attempt_and_redirect, required_reason
from tongka.web.i18n import N_
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
RUNS_URL = "/console/reconciliations"
SHOWN = 100  # newest runs on the list page
EXCEPTIONS_SHOWN = 300  # exceptions on a run's page (the API pages through all)

register_nav_item(
    NavItem("reconciliations", N_("Reconciliation"), RUNS_URL, Action.RECONCILIATION_READ)
)


@router.get("/reconciliations")
async def runs_page(console: Annotated[Console, Allowed(Action.RECONCILIATION_READ)]) -> Response:
    rows = (
        await console.session.scalars(
            select(ReconciliationRun)
            .order_by(ReconciliationRun.statement_date.desc(), ReconciliationRun.channel)
            .limit(SHOWN)
        )
    ).all()
    reports = [await report_of(console.session, run, now=console.now) for run in rows]
    return console.render(
        "reconciliations.html",
        reports=reports,
        open_ages=await open_by_age(console.session, now=console.now),
        ages=[label for label, _, _ in AGE_BUCKETS],
        channels=RUN_CHANNELS,
        today=console.now.date().isoformat(),
    )


def _day(form: FormDep) -> date:
    try:
        return date.fromisoformat(form_text(form, "statement_date"))
    except ValueError:
        raise InvalidRequest(
            "Give the day as YYYY-MM-DD.",
            code="reconciliation_invalid_date",
            param="statement_date",
        ) from None


def _channel(form: FormDep) -> str:
    channel = form_text(form, "channel")
    if channel not in RUN_CHANNELS:
        raise InvalidRequest(
            "Choose a channel.", code="reconciliation_invalid_channel", param="channel"
        )
    return channel


@router.post("/reconciliations")
async def run_day(
    console: Annotated[Console, Allowed(Action.RECONCILIATION_RUN)], form: FormDep
) -> Response:
    """Run a day: the channel's statement is downloaded and matched (the reserve: its
    imported bank statement); a day that ran shows its run."""

    async def work() -> ReconciliationRun:
        return await reconcile_day(
            console.session,
            console.settings,
            _channel(form),
            _day(form),
            actor=console.signed_in.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=RUNS_URL, success=N_("The day is reconciled.")
    )


@router.get("/reconciliations/{reconciliation_id}")
async def run_page(
    reconciliation_id: ObjectId,
    console: Annotated[Console, Allowed(Action.RECONCILIATION_READ)],
) -> Response:
    run = await get_run(console.session, reconciliation_id)
    report = await report_of(console.session, run, now=console.now)
    rows = (await console.session.execute(exceptions_of(run.id).limit(EXCEPTIONS_SHOWN))).all()
    return console.render(
        "reconciliation.html",
        run=run,
        report=report,
        exceptions=rows,
        ages=[label for label, _, _ in AGE_BUCKETS],
        is_cut=run.exception_count > len(rows),
        moves_money={kind.value for kind in ExceptionKind} - {ExceptionKind.DATE_SHIFT.value},
        OPEN=ExceptionStatus.OPEN.value,
        AWAITING=ExceptionStatus.AWAITING_APPROVAL.value,
    )


def _run_url(run_id: str) -> str:
    return f"{RUNS_URL}/{run_id}"


def _statement_file(form: FormDep) -> IO[bytes]:
    chosen = form.get("statement")
    if not isinstance(chosen, UploadFile) or size_of(chosen.file) == 0:
        raise StatementEmpty("The statement file is empty.", param="statement")
    return chosen.file


@router.post("/reconciliation_statements")
async def upload_statement(
    console: Annotated[Console, Allowed(Action.RECONCILIATION_RUN)], form: FormDep
) -> Response:
    """Upload a day's statement file (a channel's bill, or the reserve account's bank
    statement) and reconcile the day; the file arrives spooled to disk (bounded memory)
    and is parsed in pieces. A day that ran shows its run unchanged; a file that cannot be
    read is refused next to the file field, and nothing is kept."""

    async def work() -> tuple[ReconciliationRun, bool]:
        channel, day, file = _channel(form), _day(form), _statement_file(form)
        return await reconcile_upload(
            console.session,
            console.settings,
            channel,
            day,
            pieces(file),
            actor=console.signed_in.actor,
            now=console.now,
        )

    result, exc = await console.attempt_error(work)
    if exc is not None:
        field = "statement" if isinstance(exc, StatementInvalid | StatementEmpty) else None
        return console.redirect_with_error(RUNS_URL, exc, form, field=field)
    assert result is not None
    run, made = result
    success = (
        N_("The statement is imported and the day reconciled.")
        if made
        else N_("That day was reconciled already: its run is shown unchanged.")
    )
    return console.redirect_after(_run_url(run.id), success=success)


@router.post("/reconciliation_exceptions/{reconciliation_exception_id}/resolve")
async def resolve(
    reconciliation_exception_id: ObjectId,
    console: Annotated[Console, Allowed(Action.RECONCILIATION_RESOLVE)],
    form: FormDep,
) -> Response:
    exception = await resolutions.get_exception(console.session, reconciliation_exception_id)

    async def work() -> object:
        try:
            method = ResolutionMethod(form_text(form, "method"))
        except ValueError:
            raise InvalidRequest(
                "Choose how to resolve it.", code="reconciliation_invalid_method", param="method"
            ) from None
        return await resolutions.propose(
            console.session,
            exception.id,
            method,
            required_reason(form),
            actor=console.signed_in.actor,
            now=console.now,
            matched_reference=optional_text(form, "matched_reference"),
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=_run_url(exception.run_id),
        success=N_("The resolution is recorded."),
    )


@router.post("/reconciliation_resolutions/{reconciliation_resolution_id}/approve")
async def approve(
    reconciliation_resolution_id: ObjectId,
    console: Annotated[Console, Allowed(Action.RECONCILIATION_APPROVE)],
    form: FormDep,
) -> Response:
    resolution = await resolutions.get_resolution(console.session, reconciliation_resolution_id)
    exception = await resolutions.get_exception(console.session, resolution.exception_id)

    async def work() -> object:
        return await resolutions.approve(
            console.session, resolution.id, actor=console.signed_in.actor, now=console.now
        )

    return await attempt_and_redirect(
        console,
        work,
        form,
        success_url=_run_url(exception.run_id),
        success=N_("The adjustment is approved and posted."),
    )
