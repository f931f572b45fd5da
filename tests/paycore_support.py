"""Helpers for tests of the payments core: a listener that posts the paid value to the
ledger (as ``sales`` will), and the sandbox's adapters injected into the app's registry.

    from tests.paycore_support import paid_channels, RecordingListener  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.payments_support import PaymentSandbox, open_payment_sandbox
from tongka.config import Settings
from tongka.ledger import AccountCode, TransferRequest, post_transfers
from tongka.ledger.system_accounts import system_account
from tongka.payments import purposes, registry
from tongka.payments.accounts import channel_receivable_account
from tongka.payments.channel import PaymentMethod
from tongka.payments.purposes import PaymentOutcome
from tongka.payments.service import start_payment
from tongka.payments.views import PaymentView, StartedPayment

PURPOSE = "test_order"


@dataclass
class RecordingListener:
    """Posts channel receivable → suspense for every succeeded payment (once per call) and
    answers ``outcome``; remembers what it was told."""

    outcome: PaymentOutcome = PaymentOutcome.FULFILLED
    calls: list[PaymentView] = field(default_factory=list)

    async def payment_succeeded(
        self, session: AsyncSession, payment: PaymentView, *, now: datetime
    ) -> PaymentOutcome:
        self.calls.append(payment)
        if self.outcome is PaymentOutcome.FULFILLED:
            debit = await channel_receivable_account(
                session, payment.channel, payment.currency, now=now, merchant_id=payment.merchant_id
            )
            credit = await system_account(session, AccountCode.SUSPENSE, payment.currency, now=now)
            await post_transfers(
                session,
                [
                    TransferRequest(
                        transfer_id=f"paid-{payment.id}",
                        debit_account_id=debit,
                        credit_account_id=credit,
                        amount=payment.amount_minor,
                        currency=payment.currency,
                        code="test_payment",
                    )
                ],
                now=now,
            )
        return self.outcome


@pytest.fixture
def listener() -> Iterator[RecordingListener]:
    recording = RecordingListener()
    purposes.register_listener(PURPOSE, recording)
    yield recording
    purposes.unregister_listener(PURPOSE)


@pytest.fixture
def payment_settings(sandbox_settings: Settings) -> Settings:
    from tests.conftest import TEST_SECRET_KEY

    return sandbox_settings.model_copy(update={"secret_key": TEST_SECRET_KEY})


@pytest.fixture
async def paid_channels(payment_settings: Settings) -> AsyncIterator[PaymentSandbox]:
    """The in-process sandbox; its adapters are the app's channels during the test."""
    async with open_payment_sandbox(payment_settings) as sandbox:
        with registry.override_channels(sandbox.channels):
            yield sandbox


async def start(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    *,
    amount: int = 50_000,
    method: PaymentMethod = PaymentMethod.NATIVE_QR,
    purpose_id: str = "ord_1",
    merchant_id: str | None = "mch_test",
    **kwargs: Any,
) -> StartedPayment:
    return await start_payment(
        session,
        purpose_kind=PURPOSE,
        purpose_id=purpose_id,
        merchant_id=merchant_id,
        amount_minor=amount,
        currency="CNY",
        method=method,
        expires_at=now + timedelta(minutes=15),
        now=now,
        settings=settings,
        **kwargs,
    )


def real_now() -> datetime:
    """The sandbox stamps times with the wall clock; tests that compare dates use this."""
    return datetime.now(UTC)


class _Accepting:
    async def payment_succeeded(
        self, session: AsyncSession, payment: PaymentView, *, now: datetime
    ) -> PaymentOutcome:
        return PaymentOutcome.FULFILLED


async def cash_payment(database: Any, merchant_id: str, amount: int = 10_000) -> str:
    """A paid cash payment of ``merchant_id`` made through the service (no ledger posting)."""
    from tests.conftest import TEST_SECRET_KEY
    from tongka.payments.adapters.cash import Cash
    from tongka.payments.channel import ChannelName

    purposes.register_listener("sample", _Accepting())
    settings = Settings(environment="test", secret_key=TEST_SECRET_KEY)
    now = real_now()
    with registry.override_channels({ChannelName.CASH: Cash()}):
        async with database.transaction() as session:
            started = await start_payment(
                session,
                purpose_kind="sample",
                purpose_id="ord_sample",
                merchant_id=merchant_id,
                amount_minor=amount,
                currency="CNY",
                method=PaymentMethod.CASH,
                channel=ChannelName.CASH,
                expires_at=now + timedelta(minutes=15),
                now=now,
                settings=settings,
            )
    return started.payment.id
