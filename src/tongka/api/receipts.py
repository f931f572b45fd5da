"""``/v1/receipts/{code}`` (+ ``.pdf``): the public receipt check (电子回单查验).

Public on purpose: the code printed on a receipt is its credential, 100 random bits (see
``tongka.sales.receipts``), so whoever holds the receipt can have it confirmed without an
account. Each check counts against the caller's address (``receipt_check_rate_limit``,
shared with the console's 回单查验) on top of the API's own per-address limit; an unknown
code and an ill-formed one answer the same 404; a receipt whose stored content no longer
verifies answers 409 ``receipt_not_verified``, never its facts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from tongka.api.errors import ERROR_RESPONSES
from tongka.config import Settings
from tongka.edge.deps import SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.edge.policy import Public
from tongka.edge.throttle import count_public_check
from tongka.money import MoneyModel
from tongka.sales.receipt_pdf import render_receipt_pdf
from tongka.sales.receipts import CheckedReceipt, check_receipt

router = APIRouter(responses=ERROR_RESPONSES, tags=["receipts"], route_class=UnitOfWorkRoute)
PUBLIC = Public("receipt check by its code")


class ReceiptLineOut(BaseModel):
    product_name: str
    face_value: MoneyModel
    count: int
    amount: MoneyModel


class ReceiptOut(BaseModel):
    object: Literal["receipt"] = "receipt"
    code: str
    verified: Literal[True] = True
    kind: str
    order_id: str
    merchant_id: str
    merchant_name: str
    buyer_display: str
    lines: list[ReceiptLineOut]
    amount: MoneyModel
    bonus: MoneyModel
    channel: str
    channel_transaction_id: str | None
    payer_account_masked: str | None
    paid_at: datetime
    issued_at: datetime
    refund_id: str | None
    original_code: str | None
    pdf_url: str

    @classmethod
    def of(cls, checked: CheckedReceipt) -> ReceiptOut:
        facts, receipt = checked.facts, checked.receipt
        currency = facts.currency
        return cls(
            code=receipt.code,
            kind=facts.kind.value,
            order_id=facts.order_id,
            merchant_id=facts.merchant_id,
            merchant_name=facts.merchant_name,
            buyer_display=facts.buyer_display,
            lines=[
                ReceiptLineOut(
                    product_name=line.product_name,
                    face_value=MoneyModel(amount=line.face_value_minor, currency=currency),
                    count=line.count,
                    amount=MoneyModel(amount=line.amount_minor, currency=currency),
                )
                for line in facts.lines
            ],
            amount=MoneyModel(amount=facts.amount_minor, currency=currency),
            bonus=MoneyModel(amount=facts.bonus_minor, currency=currency),
            channel=facts.channel,
            channel_transaction_id=facts.channel_transaction_id,
            payer_account_masked=facts.payer_account_masked,
            paid_at=facts.paid_at,
            issued_at=receipt.issued_at,
            refund_id=facts.refund_id,
            original_code=checked.original_code,
            pdf_url=f"/v1/receipts/{receipt.code}.pdf",
        )


async def _checked(
    request: Request, session: SessionDep, settings: Settings, code: str
) -> CheckedReceipt:
    await count_public_check(
        request,
        settings,
        name="receipt_check",
        limit=settings.receipt_check_rate_limit,
        code="receipt_check_rate_limited",
    )
    return await check_receipt(session, code, settings=settings)


# declared before ``{code}``, which would otherwise take "….pdf" as the code
@router.get(
    "/v1/receipts/{code}.pdf",
    summary="A receipt's PDF by its verification code (public; limited per address)",
    dependencies=[PUBLIC],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The receipt (A5)."}},
)
async def receipt_pdf(
    code: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    checked = await _checked(request, session, settings, code)
    pdf = render_receipt_pdf(checked, base_url=settings.public_base_url, timezone=settings.timezone)
    filename = f"receipt-{checked.receipt.code}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get(
    "/v1/receipts/{code}",
    summary="Check a receipt (电子回单) by its verification code (public; limited per address)",
    dependencies=[PUBLIC],
)
async def receipt(
    code: str, request: Request, session: SessionDep, settings: SettingsDep
) -> ReceiptOut:
    return ReceiptOut.of(await _checked(request, session, settings, code))
