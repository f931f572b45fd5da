# ruff: noqa: F811 - pytest fixtures imported from the support modules
"""Races on PostgreSQL: concurrent refunds never add up to more than was paid; concurrent
fee-income transfers never move more than was earned; replays answer the first."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests.paycore_support import (  # noqa: F401 - fixtures
    RecordingListener,
    listener,
    paid_channels,
    payment_settings,
    real_now,
    start,
)
from tests.payments_support import PaymentSandbox, sandbox_settings  # noqa: F401
from tongka.config import Settings
from tongka.db import Database
from tongka.errors import DomainError
from tongka.ledger import AccountCode, TransferRequest, post_transfers
from tongka.ledger.system_accounts import system_account
from tongka.payments.channel import ChannelName
from tongka.payments.models import PaymentRefund, ReserveTransfer
from tongka.payments.refunds import refund_payment
from tongka.payments.reserve import reserve_figures, transfer_reserve
from tongka.payments.service import get_payment, poll_payment

pytestmark = pytest.mark.pg


async def _outcomes(calls: list[object]) -> list[object]:
    return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), timeout=120)  # type: ignore[arg-type]


async def test_concurrent_refunds_stop_at_the_paid_amount(
    pg_database: Database,
    payment_settings: Settings,
    paid_channels: PaymentSandbox,
    listener: RecordingListener,
) -> None:
    database = pg_database
    async with database.transaction() as session:
        started = await start(
            session, payment_settings, real_now(), channel=ChannelName.WECHAT, amount=10_000
        )
    payment_id = started.payment.id
    await paid_channels.pay(ChannelName.WECHAT, payment_id, faults=["silent"])
    async with database.transaction() as session:  # paid silently: found by polling
        await poll_payment(session, payment_id, now=real_now(), settings=payment_settings)

    async def refund(number: int) -> object:
        async def work(session: object) -> object:
            return await refund_payment(
                session,  # type: ignore[arg-type]
                payment_id,
                refund_id=f"rf-{number % 6}",  # six ids, each sent several times
                amount_minor=3_000,
                reason="race",
                now=real_now(),
                settings=payment_settings,
            )

        return await database.run(work)  # type: ignore[arg-type]

    results = await _outcomes([refund(number) for number in range(24)])
    refused = [r for r in results if isinstance(r, DomainError)]
    assert all(r.code == "refund_exceeds_payment" for r in refused)
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    async with database.transaction() as session:
        view = await get_payment(session, payment_id)
        refunds = (await session.scalars(select(PaymentRefund))).all()
    assert len(refunds) == 3  # 3 × 30.00 of 100.00
    assert view.refunded_minor == 9_000
    gateway = paid_channels.gateway.state.get(ChannelName.WECHAT, payment_id)
    assert gateway is not None
    assert gateway.refunded_minor == 9_000


async def test_concurrent_fee_income_transfers_never_move_more_than_earned(
    pg_database: Database,
) -> None:
    database = pg_database
    now = real_now()
    async with database.transaction() as session:
        reserve = await system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
        fees = await system_account(session, AccountCode.FEE_INCOME, "CNY", now=now)
        await post_transfers(
            session,
            [TransferRequest("fee", reserve, fees, 1_000, "CNY", "redemption_fee")],
            now=now,
        )

    async def move(number: int) -> object:
        async def work(session: object) -> object:
            return await transfer_reserve(
                session,  # type: ignore[arg-type]
                transfer_id=f"t-{number % 8}",
                amount_minor=300,
                currency="CNY",
                memo="",
                actor="test",
                now=real_now(),
            )

        return await database.run(work)  # type: ignore[arg-type]

    results = await _outcomes([move(number) for number in range(32)])
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    async with database.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(ReserveTransfer))
        figures = await reserve_figures(session, "CNY")
    assert count == 3
    assert (figures.moved_minor, figures.operating_bank_minor, figures.reserve_bank_minor) == (
        900,
        900,
        100,
    )
