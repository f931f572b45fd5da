"""A reconciliation day in a few lines: payments and refunds we hold as done (rows written
directly: matching reads them, it never calls a channel), and the channel's statement lines
that should or should not agree with them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.payments.channel import ChannelName, StatementLine, StatementLineKind
from tongka.payments.models import Payment, PaymentRefund

DAY = date(2026, 12, 1)
ZONE = ZoneInfo("Asia/Shanghai")
TIMEZONE = "Asia/Shanghai"
WECHAT = ChannelName.WECHAT


def at(day: date = DAY, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


def payment_row(
    payment_id: str,
    amount: int,
    fee: int,
    paid_at: datetime,
    *,
    channel: str = "wechat",
    status: str = "succeeded",
) -> dict[str, object]:
    return {
        "id": payment_id,
        "purpose_kind": "test",
        "purpose_id": payment_id,
        "merchant_id": None,
        "channel": channel,
        "method": "native_qr",
        "amount_minor": amount,
        "currency": "CNY",
        "status": status,
        "refunded_minor": 0,
        "fee_minor": fee,
        "route_reason": "test",
        "instructions": {},
        "expires_at": paid_at + timedelta(minutes=15),
        "paid_at": paid_at,
        "created_at": paid_at,
        "updated_at": paid_at,
    }


async def add_payments(session: AsyncSession, rows: Iterable[dict[str, object]]) -> None:
    await session.execute(insert(Payment), list(rows))


async def add_refund(
    session: AsyncSession, refund_id: str, payment_id: str, amount: int, done_at: datetime
) -> None:
    session.add(
        PaymentRefund(
            id=refund_id,
            payment_id=payment_id,
            amount_minor=amount,
            currency="CNY",
            status="succeeded",
            reason="test",
            is_automatic=False,
            created_at=done_at,
            updated_at=done_at,
        )
    )
    await session.flush()


def line(
    payment_id: str,
    amount: int,
    fee: int,
    occurred_at: datetime | None = None,
    *,
    refund_id: str | None = None,
) -> StatementLine:
    occurred = occurred_at or at()
    return StatementLine(
        channel=WECHAT,
        trade_date=occurred.astimezone(ZONE).date(),
        kind=StatementLineKind.REFUND if refund_id else StatementLineKind.PAYMENT,
        payment_id=payment_id,
        channel_transaction_id=f"42{payment_id}",
        amount_minor=amount,
        fee_minor=fee,
        currency="CNY",
        occurred_at=occurred,
        refund_id=refund_id,
    )


async def seeded_run(
    database: object, day: date, *, actor: str = "user:usr_seed"
) -> tuple[str, str, str]:
    """A run of ``day`` with one ``long`` and one ``short`` exception, the first with a
    proposed adjustment: (run id, the short exception's id, the proposal's id)."""
    from sqlalchemy import select

    from tongka.db import Database
    from tongka.reconciliation import resolutions
    from tongka.reconciliation.kinds import ResolutionMethod
    from tongka.reconciliation.models import ReconciliationException
    from tongka.reconciliation.service import reconcile_channel

    assert isinstance(database, Database)
    now = at(day + timedelta(days=1), 9)
    suffix = day.strftime("%Y%m%d")
    async with database.transaction() as session:
        await add_payments(
            session,
            [
                payment_row(f"pay_ok{suffix}", 10_000, 60, at(day)),
                payment_row(f"pay_short{suffix}", 20_000, 120, at(day)),
            ],
        )
        run = await reconcile_channel(
            session,
            "wechat",
            day,
            [
                line(f"pay_ok{suffix}", 10_000, 60, at(day)),
                line(f"pay_long{suffix}", 5_000, 30, at(day)),
            ],
            actor=actor,
            now=now,
            timezone=TIMEZONE,
        )
        found = {
            row.kind: row.id
            for row in await session.scalars(
                select(ReconciliationException).where(ReconciliationException.run_id == run.id)
            )
        }
        proposal = await resolutions.propose(
            session,
            found["long"],
            ResolutionMethod.ADJUSTMENT,
            "the channel took a payment we never recorded",
            actor=actor,
            now=now,
        )
        return run.id, found["short"], proposal.id


class StatementChannel:
    """A stand-in channel that serves one WeChat Pay trade bill (``registry.override_channels``)."""

    name = WECHAT

    def __init__(self, lines: list[StatementLine]) -> None:
        self.lines = lines
        self.downloads = 0

    async def download_statement(self, statement_date: date) -> bytes:
        from tongka.reconciliation.writers import wechat_bill

        self.downloads += 1
        return b"".join(wechat_bill(self.lines))

    def parse_statement(self, content: object) -> Iterable[StatementLine]:
        from tongka.payments.adapters.wechat import parse_tradebill

        return parse_tradebill(content)  # type: ignore[arg-type]
