"""The reserve (备付金) and the only ways the platform's own money leaves or enters it (三分离).

``reserve_figures``: the reserve bank balance, what channels owe us (each channel's
receivable: money in flight), what is owed to card holders and merchants, whether customer
money covers it (``tongka.ledger.cover``), and the fee income earned and not yet moved.

The reserve's surplus over what it owes is the platform's own money: the fee income it
earned, less the channel fees the channels kept of customer payments (the platform's cost,
paid out of customer money until the platform makes it good), less what was moved out.

``transfer_reserve(direction=TO_OPERATING)``: an explicit transfer of the platform's money
from the reserve bank account to the operating bank account, never more than the surplus —
so the transfer itself can never leave customer money short. ``TO_RESERVE``: the platform
puts its own money in, to cover a shortfall (channel fees above fee income, as on a new
platform that has earned nothing yet): capital paid into the reserve bank account, recorded
against the platform's equity (not the operating account, whose ledger balance holds only
what was moved there). Idempotent on
``transfer_id`` (a replay answers the first transfer); concurrent transfers queue on the
currency's running-total row, and each reads the surplus after the one before it committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.statements import dialect_of, savepoint
from tongka.errors import InvalidRequest, amount_detail
from tongka.events import record_event
from tongka.ledger import AccountCode, TransferRequest, get_balances, post_transfers
from tongka.ledger.cover import Cover, cover_of
from tongka.ledger.models import LedgerAccount
from tongka.money import get_currency
from tongka.payments.accounts import (
    RECEIVABLE_PREFIX,
    fee_income_account,
    operating_bank_account,
    reserve_bank_account,
    system_account,
)
from tongka.payments.errors import ReserveTransferConflict, ReserveTransferExceedsFeeIncome
from tongka.payments.models import ReserveTotal, ReserveTransfer

TRANSFER_CODE = "fee_income_transfer"
FUNDING_CODE = "reserve_funding"


class Direction(StrEnum):
    TO_OPERATING = "to_operating"  # the platform's own money out (fee income)
    TO_RESERVE = "to_reserve"  # the platform's capital in (a shortfall made good)


@dataclass(frozen=True)
class ReserveFigures:
    currency: str
    cover: Cover
    receivables: dict[str, int]  # channel -> what it owes us (in flight)
    moved_minor: int  # fee income moved to the operating account so far
    operating_bank_minor: int

    @property
    def reserve_bank_minor(self) -> int:
        return self.cover.amount(AccountCode.RESERVE_BANK)

    @property
    def fee_income_minor(self) -> int:
        return self.cover.amount(AccountCode.FEE_INCOME)

    @property
    def channel_fees_minor(self) -> int:
        """What channels kept of customer payments: the platform's cost, taken from the reserve."""
        return self.cover.amount(AccountCode.CHANNEL_FEE_EXPENSE)

    @property
    def movable_minor(self) -> int:
        """The platform's own money in the reserve: at most this may move to operating."""
        return max(self.cover.surplus, 0)

    @property
    def shortfall_minor(self) -> int:
        """What the platform must put into the reserve for customer money to cover what is owed."""
        return max(-self.cover.surplus, 0)


async def _moved(session: AsyncSession, currency: str) -> int:
    moved = await session.scalar(
        select(ReserveTotal.moved_minor).where(ReserveTotal.currency == currency)
    )
    return int(moved or 0)


async def reserve_figures(session: AsyncSession, currency: str) -> ReserveFigures:
    get_currency(currency)
    cover = await cover_of(session, currency)
    receivable_ids = (
        await session.scalars(
            select(LedgerAccount.id).where(
                LedgerAccount.code == AccountCode.CHANNEL_RECEIVABLE.value,
                LedgerAccount.currency == currency,
                LedgerAccount.id.startswith(RECEIVABLE_PREFIX),
            )
        )
    ).all()
    balances = await get_balances(session, list(receivable_ids)) if receivable_ids else {}
    receivables = {
        account_id.removeprefix(RECEIVABLE_PREFIX).rsplit(":", 1)[0]: balance.posted
        for account_id, balance in balances.items()
    }
    operating = await session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.code == AccountCode.OPERATING_BANK.value,
            LedgerAccount.currency == currency,
        )
    )
    operating_minor = 0
    if operating is not None:
        operating_minor = (await get_balances(session, [operating]))[operating].posted
    return ReserveFigures(
        currency,
        cover,
        dict(sorted(receivables.items())),
        await _moved(session, currency),
        operating_minor,
    )


async def _lock_total(session: AsyncSession, currency: str, now: datetime) -> None:
    """Hold the currency's running-total row: concurrent transfers queue here."""
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    await session.execute(
        dialect.insert(ReserveTotal.__table__)
        .values(currency=currency, moved_minor=0, updated_at=now)
        .on_conflict_do_nothing()
    )
    await session.execute(
        select(ReserveTotal.currency).where(ReserveTotal.currency == currency).with_for_update()
    )


async def _claim(
    session: AsyncSession, currency: str, amount_minor: int, direction: Direction, now: datetime
) -> bool:
    """Count the transfer in the running total; out only within the surplus (under the
    total's lock, so the surplus read is after every earlier transfer committed)."""
    if direction is Direction.TO_OPERATING:
        if amount_minor > (await cover_of(session, currency)).surplus:
            return False
        change = amount_minor
    else:
        change = -amount_minor
    await session.execute(
        update(ReserveTotal)
        .where(ReserveTotal.currency == currency)
        .values(moved_minor=ReserveTotal.moved_minor + change, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return True


def _checked(transfer_id: str, amount_minor: int, currency: str) -> None:
    get_currency(currency)
    if not transfer_id or len(transfer_id) > 64:
        raise InvalidRequest(
            "A transfer id is 1 to 64 characters.", code="invalid_transfer_id", param="transfer_id"
        )
    if type(amount_minor) is not int or amount_minor <= 0:
        raise InvalidRequest(
            "A transfer's amount is a positive whole number of minor units.",
            code="invalid_amount",
            param="amount",
        )


async def transfer_reserve(
    session: AsyncSession,
    *,
    transfer_id: str,
    amount_minor: int,
    currency: str,
    memo: str,
    actor: str,
    now: datetime,
    direction: Direction = Direction.TO_OPERATING,
) -> ReserveTransfer:
    """Move the platform's money out of the reserve, or into it (see the module)."""
    _checked(transfer_id, amount_minor, currency)
    async with savepoint(session):
        await _lock_total(session, currency, now)
        existing = await session.scalar(
            select(ReserveTransfer)
            .where(ReserveTransfer.id == transfer_id)
            .execution_options(populate_existing=True)
        )
        if existing is not None:
            if (existing.amount_minor, existing.currency, existing.direction) != (
                amount_minor,
                currency,
                direction.value,
            ):
                raise ReserveTransferConflict(
                    f"transfer id {transfer_id} was used for another transfer",
                    param="transfer_id",
                )
            return existing
        if not await _claim(session, currency, amount_minor, direction, now):
            figures = await reserve_figures(session, currency)
            raise ReserveTransferExceedsFeeIncome(
                f"at most {figures.movable_minor} of the platform's own money is in the "
                f"reserve to move, not {amount_minor}",
                param="amount",
                details={
                    "available": amount_detail(figures.movable_minor, currency),
                    "requested": amount_detail(amount_minor, currency),
                },
            )
        reserve = await reserve_bank_account(session, currency, now=now)
        out = direction is Direction.TO_OPERATING
        if out:
            other = await operating_bank_account(session, currency, now=now)
        else:
            other = await system_account(session, AccountCode.OPENING_EQUITY, currency, now=now)
        await fee_income_account(session, currency, now=now)
        await post_transfers(
            session,
            [
                TransferRequest(
                    transfer_id=f"reserve-transfer:{transfer_id}",
                    debit_account_id=other if out else reserve,
                    credit_account_id=reserve if out else other,
                    amount=amount_minor,
                    currency=currency,
                    code=TRANSFER_CODE if out else FUNDING_CODE,
                    metadata={"memo": memo[:200], "actor": actor},
                )
            ],
            now=now,
        )
        transfer = ReserveTransfer(
            id=transfer_id,
            amount_minor=amount_minor,
            currency=currency,
            direction=direction.value,
            memo=memo[:200],
            actor=actor,
            created_at=now,
        )
        session.add(transfer)
        await session.flush()
    await record_event(
        session,
        type="reserve.fee_income_transferred" if out else "reserve.funded",
        object_type="reserve_transfer",
        object_id=transfer_id,
        actor=actor,
        now=now,
        data={"amount": amount_detail(amount_minor, currency)},
    )
    return transfer


async def list_reserve_transfers(
    session: AsyncSession, currency: str, *, limit: int = 50
) -> list[ReserveTransfer]:
    return list(
        (
            await session.scalars(
                select(ReserveTransfer)
                .where(ReserveTransfer.currency == currency)
                .order_by(ReserveTransfer.created_at.desc(), ReserveTransfer.id.desc())
                .limit(limit)
            )
        ).all()
    )
