"""Settlement pages: a merchant's 结算单 (batches with their lines, the CSV statement) and
合同 (contract versions, read only); the platform's 结算运行 (runs by business date)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Response
from sqlalchemy import func, select

from tongka.edge.schemas import ObjectId
from tongka.policy import Action, scope_of
from tongka.settlement import contracts
from tongka.settlement.errors import BatchNotFound
from tongka.settlement.fee_terms import FeeKind
from tongka.settlement.models import MerchantContract, Payout, SettlementBatch
from tongka.settlement.statement_pdf import statement_pdf
from tongka.settlement.statements import batch_lines, statement_csv
from tongka.web import pickers
from tongka.web.console import Console, console_router
from tongka.web.i18n import N_
from tongka.web.names import load_names
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.contract_forms import CYCLES, held_payouts
from tongka.web.pages.listing import Allowed

router = console_router()
SHOWN = 100  # newest batches on the list page
LINES_SHOWN = 500  # lines on a batch's page (the CSV has every line)

register_nav_item(
    NavItem(
        "settlement_batches",
        N_("Settlement batches"),
        "/console/settlement_batches",
        Action.SETTLEMENT_READ,
    )
)
register_nav_item(NavItem("contracts", N_("Contracts"), "/console/contracts", Action.CONTRACT_READ))
register_nav_item(
    NavItem(
        "settlement_runs", N_("Settlement runs"), "/console/settlement_runs", Action.SETTLEMENT_RUN
    )
)


def _scoped(console: Console, statement, model):  # type: ignore[no-untyped-def]
    merchant_id = scope_of(console.signed_in).merchant()
    return statement if merchant_id is None else statement.where(model.merchant_id == merchant_id)


@router.get("/settlement_batches")
async def batches_page(
    console: Annotated[Console, Allowed(Action.SETTLEMENT_READ)],
) -> Response:
    statement = _scoped(
        console,
        select(SettlementBatch)
        .order_by(SettlementBatch.business_date.desc(), SettlementBatch.id)
        .limit(SHOWN),
        SettlementBatch,
    )
    rows = (await console.session.scalars(statement)).all()
    return console.render("settlement_batches.html", batches=rows)


async def _batch(console: Console, batch_id: str) -> SettlementBatch:
    row = await console.session.get(SettlementBatch, batch_id)
    if row is None or not scope_of(console.signed_in).reaches(merchant_id=row.merchant_id):
        raise BatchNotFound("No such settlement batch.", details={"object": "settlement_batch"})
    return row


@router.get("/settlement_batches/{settlement_batch_id}")
async def batch_page(
    settlement_batch_id: ObjectId, console: Annotated[Console, Allowed(Action.SETTLEMENT_READ)]
) -> Response:
    batch = await _batch(console, settlement_batch_id)
    lines = await batch_lines(console.session, batch.id, limit=LINES_SHOWN)
    payouts = (
        await console.session.scalars(
            select(Payout).where(Payout.batch_id == batch.id).order_by(Payout.attempt)
        )
    ).all()
    return console.render(
        "settlement_batch.html",
        batch=batch,
        lines=lines,
        payouts=payouts,
        is_cut=batch.line_count > len(lines),
    )


@router.get("/settlement_batches/{settlement_batch_id}/statement.csv")
async def batch_statement(
    settlement_batch_id: ObjectId, console: Annotated[Console, Allowed(Action.SETTLEMENT_READ)]
) -> Response:
    batch = await _batch(console, settlement_batch_id)
    return Response(
        await statement_csv(console.session, batch),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{batch.id}.csv"'},
    )


@router.get("/settlement_batches/{settlement_batch_id}/statement.pdf")
async def batch_statement_pdf(
    settlement_batch_id: ObjectId, console: Annotated[Console, Allowed(Action.SETTLEMENT_READ)]
) -> Response:
    batch = await _batch(console, settlement_batch_id)
    return Response(
        await statement_pdf(console.session, batch, timezone=console.settings.timezone),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="statement-{batch.id}.pdf"'},
    )


@router.get("/contracts")
async def contracts_page(console: Annotated[Console, Allowed(Action.CONTRACT_READ)]) -> Response:
    statement = _scoped(
        console,
        select(MerchantContract).order_by(
            MerchantContract.merchant_id, MerchantContract.version.desc()
        ),
        MerchantContract,
    )
    rows = (await console.session.scalars(statement.limit(SHOWN))).all()
    holds = await held_payouts(console)
    return console.render(
        "contracts.html",
        contracts=[(row, contracts.masked_account(row)) for row in rows],
        holds=holds,
        names=await load_names(console.session, merchants=[h.merchant_id for h in holds]),
        merchant_choices=await pickers.preloaded(console, "merchants", None),
        fee_kinds=list(FeeKind),
        cycle_choices=[(str(days), f"T+{days}") for days in CYCLES],
    )


@router.get("/settlement_runs")
async def runs_page(console: Annotated[Console, Allowed(Action.SETTLEMENT_RUN)]) -> Response:
    """Per business date: how many batches, their net, and where their payouts stand."""
    rows = (
        await console.session.execute(
            select(
                SettlementBatch.business_date,
                SettlementBatch.payout_status,
                func.count(),
                func.sum(SettlementBatch.net),
            )
            .group_by(SettlementBatch.business_date, SettlementBatch.payout_status)
            .order_by(SettlementBatch.business_date.desc())
            .limit(SHOWN)
        )
    ).all()
    runs: dict[object, dict[str, tuple[int, int]]] = {}
    for day, status, count, total in rows:
        runs.setdefault(day, {})[status] = (int(count), int(total or 0))
    return console.render("settlement_runs.html", runs=runs)
