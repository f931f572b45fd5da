"""``POST /v1/reconciliation_statements?channel=&statement_date=``: platform finance
uploads a day's statement file and the day is matched (对账单上传).

The body is the file itself (``text/csv`` or ``application/octet-stream``): a channel's
statement in the channel's own format (``wechat``, ``alipay``, ``unionpay``,
``bank_transfer``), or, for ``reserve``, the reserve account's bank statement (CSV with
余额), which is imported and the reserve's closing balance reconciled. The body is read as
it arrives into a temporary file (memory bounded, ``tongka.edge.uploads``) and parsed
from there in pieces; this path's body limit is ``Settings.max_statement_upload_bytes``
(1 GiB by default), not the app's 1 MiB.

Idempotent by the day: a day that ran answers its run (200; 201 when this upload made
it) and the file is not read again, so the same file uploaded twice changes nothing. No
``Idempotency-Key`` is needed, and none is read: hashing the body for it would mean
holding the file. A file that cannot be read is 400 ``reconciliation_statement_invalid``
naming the line (an empty one ``reconciliation_statement_empty``), and nothing is kept.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response

from tongka.api.errors import ERROR_RESPONSES
from tongka.api.reconciliation import ReconciliationOut, RunChannel
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.edge.policy import Authorized
from tongka.edge.uploads import STATEMENTS_PATH, close_spooled, pieces, size_of, spool_body
from tongka.identity.principal import Principal
from tongka.policy import Action
from tongka.reconciliation.daily import reconcile_upload
from tongka.reconciliation.errors import StatementEmpty
from tongka.reconciliation.reports import report_of

router = APIRouter(tags=["reconciliation"], route_class=UnitOfWorkRoute, responses=ERROR_RESPONSES)
_FILE = {"schema": {"type": "string", "format": "binary"}}


@router.post(
    STATEMENTS_PATH,
    status_code=201,
    summary="Upload a day's statement file and reconcile the day",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The statement file (a channel's bill, or the bank statement).",
            "content": {"text/csv": _FILE, "application/octet-stream": _FILE},
        }
    },
    responses={200: {"description": "The day had run: its run, unchanged."}},
)
async def upload_statement(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    channel: Annotated[RunChannel, Query(description="The channel, or reserve: the bank's.")],
    statement_date: Annotated[date, Query(description="The statement's day.")],
    principal: Annotated[Principal, Authorized(Action.RECONCILIATION_RUN)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ReconciliationOut:
    """Streams the file in, then matches the day as ``POST /v1/reconciliations`` does."""
    now = clock.now()
    file = await spool_body(request)  # kept for a retried attempt; closed once answered
    background.add_task(close_spooled, request)
    if size_of(file) == 0:
        raise StatementEmpty("The statement file is empty.", param="statement")
    run, made = await reconcile_upload(
        session, settings, channel, statement_date, pieces(file), actor=principal.actor, now=now
    )
    response.status_code = 201 if made else 200
    return ReconciliationOut.of(run, await report_of(session, run, now=now))
