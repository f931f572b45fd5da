"""A small world for the settlement tests: merchants with contracts and funded tills,
redemptions on given business days, runs of the settlement with a sandbox payout desk."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.cards_support import grant_quota
from tests.redemption_support import Till, make_till, redeem, request
from tests.settlement_support import make_contract
from tongka import ledger
from tongka.cards import acceptance
from tongka.cards.acceptance import Acceptance
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments.sandbox.payouts import PayoutSimulator
from tongka.redemption import aftercare
from tongka.redemption.fees import merchant_payable_id
from tongka.redemption.models import Redemption
from tongka.settlement.models import Payout, SettlementBatch, SettlementLine
from tongka.settlement.payout_channel import SimulatorChannel
from tongka.settlement.service import SettlementRun, settle_date
from tongka.settlement.split_rules import set_rule

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 10) -> datetime:
    """``hour`` o'clock on ``day`` in Shanghai, as UTC."""
    return datetime.combine(day, time(hour), SHANGHAI).astimezone(UTC)


@dataclass
class World:
    database: Database
    clock: FixedClock
    settings: Settings
    simulator: PayoutSimulator = field(default_factory=PayoutSimulator)
    tills: dict[str, Till] = field(default_factory=dict)
    counter: int = 0

    @property
    def channel(self) -> SimulatorChannel:
        return SimulatorChannel(self.simulator)

    async def merchant(self, merchant_id: str, first_day: date, **contract: Any) -> Till:
        self.clock.current = at(first_day, 9)
        async with self.database.transaction() as session:
            till = await make_till(
                session, self.clock.now(), amount=100_000, merchant_id=merchant_id
            )
            await make_contract(
                session,
                merchant_id,
                first_day,
                settings=self.settings,
                now=self.clock.now(),
                **contract,
            )
        self.tills[merchant_id] = till
        return till

    async def cross_till(
        self, name: str, issuer_id: str, acceptor_id: str, *, rule: dict[str, Any] | None
    ) -> None:
        """Till ``name``: a card of ``issuer_id`` at ``acceptor_id``'s store (both made by
        ``merchant``; an acceptance agreement, a product naming the acceptor), and the pair's
        split ``rule`` (if any) from today."""
        now = self.clock.now()
        async with self.database.transaction() as session:
            await grant_quota(session, now, 10**10, issuer_id)
            agreement = await acceptance.propose_agreement(
                session, issuer_id, acceptor_id, note=None, actor="user:issuer", now=now
            )
            await acceptance.decide_agreement(
                session,
                agreement.id,
                is_approved=True,
                merchant_id=acceptor_id,
                note=None,
                actor="user:acceptor",
                now=now,
            )
            card = await make_till(
                session,
                now,
                amount=100_000,
                merchant_id=issuer_id,
                acceptance=Acceptance.MERCHANTS,
                accepted_merchant_ids=[acceptor_id],
            )
            if rule is not None:
                today = self.clock.now().astimezone(SHANGHAI).date()
                await set_rule(
                    session,
                    issuer_id,
                    acceptor_id,
                    rule,
                    effective_date=today,
                    today=today,
                    actor="user:ops",
                    now=now,
                )
        store_id = self.tills[acceptor_id].store_id
        self.tills[name] = replace(card, merchant_id=acceptor_id, store_id=store_id)

    async def redeem(self, merchant_id: str, day: date, amount: int, hour: int = 12) -> str:
        self.clock.current = at(day, hour)
        self.counter += 1
        async with self.database.transaction() as session:
            purchase = await redeem(
                session,
                request(self.tills[merchant_id], amount, f"k{self.counter}"),
                self.clock.now(),
            )
        assert purchase.status == "approved"
        return purchase.redemptions[0].id

    async def refund(self, redemption_id: str, day: date, amount: int, hour: int = 14) -> None:
        self.clock.current = at(day, hour)
        self.counter += 1
        async with self.database.transaction() as session:
            record = await session.get(Redemption, redemption_id)
            assert record is not None
            await aftercare.refund(
                session,
                record,
                amount,
                refund_key=f"rf{self.counter}",
                reason=None,
                actor="test",
                now=self.clock.now(),
            )

    async def run(self, day: date, *, on: date | None = None, hour: int = 2) -> SettlementRun:
        """The run of ``day``, made at ``hour`` o'clock of ``on`` (default: the next day)."""
        from datetime import timedelta

        self.clock.current = at(on or day + timedelta(days=1), hour)
        self.simulator.now = self.clock.now
        return await settle_date(
            self.database,
            day,
            channel=self.channel,
            settings=self.settings,
            now=self.clock.now(),
            pay_through=on or day + timedelta(days=1),
        )

    async def batches(self, merchant_id: str) -> list[SettlementBatch]:
        async with self.database.transaction() as session:
            return list(
                (
                    await session.scalars(
                        select(SettlementBatch)
                        .where(SettlementBatch.merchant_id == merchant_id)
                        .order_by(SettlementBatch.business_date)
                    )
                ).all()
            )

    async def lines(self, batch_id: str) -> list[SettlementLine]:
        async with self.database.transaction() as session:
            return list(
                (
                    await session.scalars(
                        select(SettlementLine)
                        .where(SettlementLine.batch_id == batch_id)
                        .order_by(SettlementLine.id)
                    )
                ).all()
            )

    async def payouts(self, merchant_id: str) -> list[Payout]:
        async with self.database.transaction() as session:
            return list(
                (
                    await session.scalars(
                        select(Payout)
                        .where(Payout.merchant_id == merchant_id)
                        .order_by(Payout.created_at, Payout.id)
                    )
                ).all()
            )

    async def payable(self, merchant_id: str) -> int:
        async with self.database.transaction() as session:
            balance = await ledger.get_balance(session, merchant_payable_id(merchant_id, "CNY"))
        return balance.posted
