"""Settlement runs: per merchant, currency and business date, one batch of every movement
on the merchant's payable, netted to one amount.

A batch of business date D takes every posted transfer on ``merchant:<id>:payable:<cur>``
created before the end of D (platform time zone) that no batch holds yet: redemptions,
refunds, fees, rolling-reserve holds and releases, returned payouts, splits (分账,
``split_postings.py``). Each becomes a line
(signed from the merchant's side, traceable to its transfer id); amounts carried from
earlier batches (a negative net, a net below the minimum payout, a held or failed payout)
become lines too. The net is the lines' sum; it is paid out on D + the contract's cycle in
business days (``payouts.py``).

Why these rules hold:

- *Idempotent*: the batch row is claimed first (``INSERT … ON CONFLICT DO NOTHING`` on the
  unique (merchant, currency, date)); a second run finds it and changes nothing.
- *Concurrent runs*: on PostgreSQL the second inserter waits on the unique index for the
  first to commit, then does nothing; a transfer id is unique among lines, and carried
  amounts and reserve releases are claimed with conditional updates, so nothing is counted
  twice even by runs of different dates.
- *Late transfers*: a transfer created on D that commits after D's batch was built is
  found by the next batch (each batch reads back ``LATE_WINDOW`` before the previous cutoff
  and skips what is already lined): it lands in the next open batch, never a closed one.
- Payouts themselves (code ``settlement_payout``) are not lines: they pay a batch's net.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tongka import ledger
from tongka.ids import new_id
from tongka.ledger import AccountCode, AccountSpec, AccountType, Transfer, TransferKind
from tongka.ledger import TransferRequest as Request
from tongka.redemption.fees import merchant_payable_id
from tongka.settlement.calendar import BusinessCalendar
from tongka.settlement.contracts import contract_on, reserve_percent_of
from tongka.settlement.models import ReserveHold, SettlementBatch, SettlementLine
from tongka.settlement.split_postings import PLATFORM_SPLIT_CODE, SPLIT_CODE, split_lines

LATE_WINDOW = timedelta(days=1)
PAGE = 500
PAYOUT_CODE = "settlement_payout"
PAYOUT_RETURN_CODE = "settlement_payout_return"
RESERVE_HOLD_CODE = "settlement_reserve_hold"
RESERVE_RELEASE_CODE = "settlement_reserve_release"
DEFAULT_CYCLE_DAYS = 1
KINDS = {
    "redemption": "redemption",
    "redemption_hold": "redemption",  # a captured hold's posting keeps the hold's code
    "redemption_fee": "fee",
    "redemption_refund": "refund",
    RESERVE_HOLD_CODE: "reserve_hold",
    RESERVE_RELEASE_CODE: "reserve_release",
    PAYOUT_RETURN_CODE: "payout_returned",
    SPLIT_CODE: "split",  # the issuer's part of a cross-issuer line (split_postings.py)
    PLATFORM_SPLIT_CODE: "split",  # the platform's part (to fee income)
}
POSTED = (TransferKind.SINGLE, TransferKind.POST_PENDING)
CARRYABLE = ("carried", "failed")  # a batch whose net moves on to the next batch


def cutoff_of(day: date, timezone: str) -> datetime:
    """The end of ``day`` in the platform's zone, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(timezone)).astimezone(UTC)


def merchant_reserve_id(merchant_id: str, currency: str) -> str:
    return f"merchant:{merchant_id}:reserve:{currency}"


async def _reserve_account(
    session: AsyncSession, merchant_id: str, currency: str, now: datetime
) -> str:
    account_id = merchant_reserve_id(merchant_id, currency)
    await ledger.open_account(
        session,
        AccountSpec(
            account_id=account_id,
            currency=currency,
            type=AccountType.LIABILITY,
            code=AccountCode.MERCHANT_RESERVE,
            owner_type="merchant",
            owner_id=merchant_id,
        ),
        now=now,
    )
    return account_id


async def payable_accounts(session: AsyncSession) -> list[AccountSpec]:
    return [
        spec
        for spec in await ledger.list_accounts(session, AccountCode.MERCHANT_PAYABLE)
        if spec.owner_id is not None
    ]


def signed(transfer: Transfer, account_id: str) -> int:
    """+ when the transfer credits the payable (owed to the merchant), - when it debits."""
    return transfer.amount if transfer.credit_account_id == account_id else -transfer.amount


async def _unlined_movements(
    session: AsyncSession, account_id: str, created_from: datetime | None, cutoff: datetime
) -> list[Transfer]:
    found: list[Transfer] = []
    after: int | None = None
    while True:
        page = await ledger.list_transfers_created(
            session,
            account_id,
            created_from=created_from,
            created_before=cutoff,
            limit=PAGE,
            after_sequence=after,
        )
        found.extend(t for t in page if t.kind in POSTED and t.code != PAYOUT_CODE)
        if len(page) < PAGE:
            break
        after = page[-1].sequence
    if not found:
        return []
    lined = set(
        (
            await session.scalars(
                select(SettlementLine.transfer_id).where(
                    SettlementLine.transfer_id.in_([t.transfer_id for t in found])
                )
            )
        ).all()
    )
    return [t for t in found if t.transfer_id not in lined]


async def _fees_taken(session: AsyncSession, movements: list[Transfer]) -> dict[str, int]:
    """The fee legs posted beside each redemption leg (``<id>:paid`` → ``<id>:paid_fee``):
    card → fee income, so they never touch the payable; the statement shows them."""
    legs = {
        f"{t.transfer_id}_fee": t.transfer_id
        for t in movements
        if KINDS.get(t.code) == "redemption" and t.transfer_id.endswith((":paid", ":bonus"))
    }
    found = await ledger.find_transfers(session, legs)
    return {legs[fee_id]: fee.amount for fee_id, fee in found.items()}


async def _previous_batch(
    session: AsyncSession, merchant_id: str, currency: str, day: date
) -> SettlementBatch | None:
    return await session.scalar(
        select(SettlementBatch)
        .where(
            SettlementBatch.merchant_id == merchant_id,
            SettlementBatch.currency == currency,
            SettlementBatch.business_date < day,
        )
        .order_by(SettlementBatch.business_date.desc())
        .limit(1)
    )


async def _carryable(
    session: AsyncSession, merchant_id: str, currency: str, day: date
) -> list[SettlementBatch]:
    return list(
        (
            await session.scalars(
                select(SettlementBatch)
                .where(
                    SettlementBatch.merchant_id == merchant_id,
                    SettlementBatch.currency == currency,
                    SettlementBatch.business_date < day,
                    SettlementBatch.payout_status.in_(CARRYABLE),
                    SettlementBatch.carried_into_batch_id.is_(None),
                )
                .order_by(SettlementBatch.business_date)
            )
        ).all()
    )


async def _releasable(
    session: AsyncSession, merchant_id: str, currency: str, day: date
) -> list[ReserveHold]:
    return list(
        (
            await session.scalars(
                select(ReserveHold)
                .where(
                    ReserveHold.merchant_id == merchant_id,
                    ReserveHold.currency == currency,
                    ReserveHold.release_date <= day,
                    ReserveHold.released_batch_id.is_(None),
                )
                .order_by(ReserveHold.release_date, ReserveHold.batch_id)
            )
        ).all()
    )


async def _claim_batch(session: AsyncSession, values: dict[str, object]) -> bool:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    result = await session.execute(
        dialect.insert(SettlementBatch).values(**values).on_conflict_do_nothing()
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _existing(
    session: AsyncSession, merchant_id: str, currency: str, day: date
) -> SettlementBatch | None:
    return await session.scalar(
        select(SettlementBatch).where(
            SettlementBatch.merchant_id == merchant_id,
            SettlementBatch.currency == currency,
            SettlementBatch.business_date == day,
        )
    )


async def build_batch(
    session: AsyncSession,
    merchant_id: str,
    currency: str,
    day: date,
    *,
    calendar: BusinessCalendar,
    timezone: str,
    now: datetime,
) -> tuple[SettlementBatch | None, bool]:
    """The merchant's batch of ``day`` and whether this call built it (see the module).
    ``(None, False)`` when there is nothing to settle and no batch exists."""
    existing = await _existing(session, merchant_id, currency, day)
    if existing is not None:
        return existing, False
    payable = merchant_payable_id(merchant_id, currency)
    cutoff = cutoff_of(day, timezone)
    previous = await _previous_batch(session, merchant_id, currency, day)
    created_from = previous.cutoff_at - LATE_WINDOW if previous is not None else None
    movements = await _unlined_movements(session, payable, created_from, cutoff)
    carries = await _carryable(session, merchant_id, currency, day)
    releases = await _releasable(session, merchant_id, currency, day)
    if not (movements or carries or releases):
        return None, False
    contract = await contract_on(session, merchant_id, day)
    batch_id = new_id("stb")
    cycle = contract.cycle_days if contract is not None else DEFAULT_CYCLE_DAYS
    claimed = await _claim_batch(
        session,
        {
            "id": batch_id,
            "merchant_id": merchant_id,
            "currency": currency,
            "business_date": day,
            "contract_id": contract.id if contract else None,
            "cutoff_at": cutoff,
            "movements": 0,
            "carried_in": 0,
            "reserve_held": 0,
            "reserve_released": 0,
            "net": 0,
            "line_count": 0,
            "payout_date": calendar.add_business_days(day, cycle),
            "payout_status": "building",
            "created_at": now,
            "updated_at": now,
        },
    )
    batch = await _existing(session, merchant_id, currency, day)
    assert batch is not None
    if not claimed:
        return batch, False
    lines = _movement_lines(batch_id, payable, movements, await _fees_taken(session, movements))
    lines += await split_lines(session, batch, payable, lines, now)
    lines += await _carry_lines(session, batch_id, carries, now)
    lines += await _release_lines(session, batch, payable, releases, now)
    batch.movements = sum(
        line.amount for line in lines if line.kind not in ("carried", "reserve_release")
    )
    batch.carried_in = sum(line.amount for line in lines if line.kind == "carried")
    batch.reserve_released = sum(line.amount for line in lines if line.kind == "reserve_release")
    if contract is not None:
        held = _reserve_to_hold(batch.movements, reserve_percent_of(contract))
        if held > 0:
            lines.append(
                await _hold_reserve(
                    session, batch, payable, held, contract.reserve_days, calendar, now
                )
            )
            batch.reserve_held = held
    session.add_all(lines)
    batch.net = sum(line.amount for line in lines)
    batch.line_count = len(lines)
    batch.payout_status, batch.carry_reason = _payout_status(batch, contract)
    batch.updated_at = now
    await session.flush()
    return batch, True


def _movement_lines(
    batch_id: str, payable: str, movements: list[Transfer], fees: dict[str, int]
) -> list[SettlementLine]:
    return [
        SettlementLine(
            batch_id=batch_id,
            kind=KINDS.get(transfer.code, transfer.code),
            transfer_id=transfer.transfer_id,
            source_id=None,
            code=transfer.code,
            reference=transfer.reference,
            amount=signed(transfer, payable),
            fee=fees.get(transfer.transfer_id, 0),
            occurred_at=transfer.created_at,
        )
        for transfer in movements
    ]


async def _carry_lines(
    session: AsyncSession, batch_id: str, carries: list[SettlementBatch], now: datetime
) -> list[SettlementLine]:
    lines = []
    for earlier in carries:
        result = await session.execute(
            update(SettlementBatch)
            .where(
                SettlementBatch.id == earlier.id, SettlementBatch.carried_into_batch_id.is_(None)
            )
            .values(carried_into_batch_id=batch_id, updated_at=now)
        )
        if result.rowcount:  # type: ignore[attr-defined]  # else another run carried it
            lines.append(
                SettlementLine(
                    batch_id=batch_id,
                    kind="carried",
                    transfer_id=None,
                    source_id=earlier.id,
                    code=earlier.carry_reason or earlier.payout_status,
                    reference=earlier.business_date.isoformat(),
                    amount=earlier.net,
                    fee=0,
                    occurred_at=now,
                )
            )
    return lines


async def _release_lines(
    session: AsyncSession,
    batch: SettlementBatch,
    payable: str,
    releases: list[ReserveHold],
    now: datetime,
) -> list[SettlementLine]:
    lines = []
    for hold in releases:
        result = await session.execute(
            update(ReserveHold)
            .where(ReserveHold.batch_id == hold.batch_id, ReserveHold.released_batch_id.is_(None))
            .values(released_batch_id=batch.id)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            continue
        transfer = Request(
            transfer_id=f"{hold.batch_id}:reserve_release",
            debit_account_id=await _reserve_account(
                session, batch.merchant_id, batch.currency, now
            ),
            credit_account_id=payable,
            amount=hold.amount,
            currency=batch.currency,
            code=RESERVE_RELEASE_CODE,
            reference=hold.batch_id,
        )
        posted = await ledger.post_transfers(session, [transfer], now=now)
        lines.append(
            SettlementLine(
                batch_id=batch.id,
                kind="reserve_release",
                transfer_id=transfer.transfer_id,
                source_id=hold.batch_id,
                code=RESERVE_RELEASE_CODE,
                reference=hold.batch_id,
                amount=hold.amount,
                fee=0,
                occurred_at=posted[0].created_at,
            )
        )
    return lines


def _reserve_to_hold(movements: int, percent: Decimal) -> int:
    """The rolling reserve of a batch: ``percent`` of its takings, rounded down (the
    merchant is never held more than the percent), nothing on a non-positive day."""
    if movements <= 0 or percent <= 0:
        return 0
    return int((Decimal(movements) * percent).to_integral_value(ROUND_DOWN))


async def _hold_reserve(
    session: AsyncSession,
    batch: SettlementBatch,
    payable: str,
    amount: int,
    days: int,
    calendar: BusinessCalendar,
    now: datetime,
) -> SettlementLine:
    transfer = Request(
        transfer_id=f"{batch.id}:reserve_hold",
        debit_account_id=payable,
        credit_account_id=await _reserve_account(session, batch.merchant_id, batch.currency, now),
        amount=amount,
        currency=batch.currency,
        code=RESERVE_HOLD_CODE,
        reference=batch.id,
    )
    posted = await ledger.post_transfers(session, [transfer], now=now)
    session.add(
        ReserveHold(
            batch_id=batch.id,
            merchant_id=batch.merchant_id,
            currency=batch.currency,
            amount=amount,
            release_date=calendar.add_business_days(batch.business_date, days),
            released_batch_id=None,
        )
    )
    return SettlementLine(
        batch_id=batch.id,
        kind="reserve_hold",
        transfer_id=transfer.transfer_id,
        source_id=batch.id,
        code=RESERVE_HOLD_CODE,
        reference=batch.id,
        amount=-amount,
        fee=0,
        occurred_at=posted[0].created_at,
    )


def _payout_status(batch: SettlementBatch, contract: object | None) -> tuple[str, str | None]:
    """``due`` (paid on the payout date), or ``carried`` with the reason."""
    minimum = getattr(contract, "minimum_payout", 0)
    if contract is None:
        return "carried", "no_contract"
    if batch.net <= 0:
        return "carried", "negative" if batch.net < 0 else "zero"
    if batch.net < minimum:
        return "carried", "below_minimum"
    return "due", None
