"""Net positions between merchants (清算净额): a card of A spent at B makes A owe B; the two
directions of a pair net; each merchant sees only its own pairs (API and console)."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.cards_support import active_product, funded_card
from tests.factories import (
    TEST_KEYS,
    TEST_PASSWORD,
    api_client,
    make_merchant_with_key,
    make_platform_key,
    unique_email,
)
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.identity import service as identity
from tongka.ids import new_id
from tongka.redemption.models import Redemption
from tongka.settlement.models import SettlementBatch, SettlementLine
from tongka.settlement.net_positions import Flow, net

DAY = date(2026, 10, 9)


def test_both_directions_net_to_one_position_from_the_side_that_owes() -> None:
    flows = [
        Flow("mch_a", "mch_b", "CNY", 9_000, 3),
        Flow("mch_b", "mch_a", "CNY", 2_500, 1),
        Flow("mch_c", "mch_a", "CNY", 700, 1),
    ]
    positions = {(p.debtor_id, p.creditor_id): p for p in net(DAY, flows)}
    assert set(positions) == {("mch_a", "mch_b"), ("mch_c", "mch_a")}
    ab = positions[("mch_a", "mch_b")]
    assert (ab.gross, ab.offset, ab.net, ab.redemptions) == (9_000, 2_500, 6_500, 4)
    assert positions[("mch_c", "mch_a")].net == 700
    flipped = net(
        DAY, [Flow("mch_a", "mch_b", "CNY", 100, 1), Flow("mch_b", "mch_a", "CNY", 400, 1)]
    )
    assert [(p.debtor_id, p.net) for p in flipped] == [("mch_b", 300)]


class Day:
    """Redemptions as a settlement run leaves them: a batch per acceptor with its lines."""

    def __init__(self, session: AsyncSession, clock: FixedClock) -> None:
        self.session, self.now = session, clock.now()
        self.batches: dict[str, str] = {}

    async def card_of(self, issuer_id: str) -> str:
        product = await active_product(self.session, self.now, merchant_id=issuer_id)
        issued = await funded_card(self.session, self.now, product, amount=100_000)
        return issued.card.id

    async def spent(self, card_id: str, acceptor_id: str, amount: int, fee: int) -> None:
        redemption_id = new_id("red")
        self.session.add(_redemption(redemption_id, card_id, acceptor_id, amount, fee, self.now))
        self.session.add(
            SettlementLine(
                batch_id=await self._batch(acceptor_id),
                kind="redemption",
                transfer_id=f"{redemption_id}:paid",
                source_id=None,
                code="redemption",
                reference=redemption_id,
                amount=amount - fee,
                fee=fee,
                occurred_at=self.now,
            )
        )
        await self.session.flush()

    async def _batch(self, merchant_id: str) -> str:
        if merchant_id not in self.batches:
            self.batches[merchant_id] = new_id("stb")
            self.session.add(_batch(self.batches[merchant_id], merchant_id, self.now))
        return self.batches[merchant_id]


def _redemption(rid: str, card_id: str, merchant_id: str, amount: int, fee: int, now):  # type: ignore[no-untyped-def]
    return Redemption(
        id=rid, kind="redemption", status="approved", decline_code=None, merchant_id=merchant_id,
        store_id=None, terminal_id=None, card_id=card_id, purchase_id=None,
        idempotency_key=rid, currency="CNY", requested=amount, amount=amount, paid=amount,
        bonus=0, fee=fee, balance_after=0, actor="test", created_at=now, updated_at=now,
    )  # fmt: skip


def _batch(batch_id: str, merchant_id: str, now):  # type: ignore[no-untyped-def]
    return SettlementBatch(
        id=batch_id, merchant_id=merchant_id, currency="CNY", business_date=DAY,
        contract_id=None, cutoff_at=now, movements=0, carried_in=0, reserve_held=0,
        reserve_released=0, net=0, line_count=1, payout_date=date(2026, 10, 12),
        payout_status="pending", carry_reason=None, created_at=now, updated_at=now,
    )  # fmt: skip


async def test_the_api_and_the_console_report_each_pair_once_and_only_to_its_parties(
    settings: Settings, database: Database, clock: FixedClock
) -> None:
    a = await make_merchant_with_key(database, legal_name="甲发卡商户")
    b = await make_merchant_with_key(database, legal_name="乙受理商户")
    c = await make_merchant_with_key(database, legal_name="丙商户")
    async with database.transaction() as session:
        day = Day(session, clock)
        card_a, card_b, card_c = [await day.card_of(m.merchant_id) for m in (a, b, c)]
        await day.spent(card_a, b.merchant_id, 10_000, 60)
        await day.spent(card_b, a.merchant_id, 3_000, 18)
        await day.spent(card_c, c.merchant_id, 5_000, 30)  # its own store: no clearing
        finance = await _finance_session(session, clock)
    app = create_app(settings, database=database, clock=clock)
    async with (
        api_client(app, await make_platform_key(database)) as platform,
        api_client(app, c.api_key) as outsider,
    ):
        every = await platform.get("/v1/net_positions", params={"business_date": "2026-10-09"})
        assert every.status_code == 200, every.text
        [position] = every.json()["data"]
        assert position["debtor_merchant_id"] == a.merchant_id
        assert position["creditor_merchant_id"] == b.merchant_id
        assert position["gross"] == {"amount": 9_940, "currency": "CNY"}
        assert position["offset"] == {"amount": 2_982, "currency": "CNY"}
        assert position["net"] == {"amount": 6_958, "currency": "CNY"}
        assert position["redemptions"] == 2
        mine = await outsider.get("/v1/net_positions", params={"business_date": "2026-10-09"})
        assert mine.json()["data"] == []
        other_day = await platform.get("/v1/net_positions", params={"business_date": "2026-10-10"})
        assert other_day.json()["data"] == []
        bad = await platform.get("/v1/net_positions", params={"business_date": "yesterday"})
        assert bad.status_code == 422
    async with api_client(app, a.api_key) as issuer:
        seen = await issuer.get("/v1/net_positions", params={"business_date": "2026-10-09"})
        assert len(seen.json()["data"]) == 1
    async with api_client(app) as browser:
        browser.cookies = httpx.Cookies({SESSION_COOKIE: finance})
        page = await browser.get("/console/net_positions", params={"business_date": "2026-10-09"})
        assert page.status_code == 200
        assert "清算净额" in page.text
        assert f'data-debtor="{a.merchant_id}" data-creditor="{b.merchant_id}"' in page.text
        assert 'data-net="6958"' in page.text
        assert "甲发卡商户" in page.text


async def _finance_session(session: AsyncSession, clock: FixedClock) -> str:
    email = unique_email("finance")
    await identity.create_user(
        session, email=email, display_name="finance", role="finance", password=TEST_PASSWORD,
        actor="test", now=clock.now(),
    )  # fmt: skip
    result = await identity.login(
        session, TEST_KEYS, email=email, password=TEST_PASSWORD, now=clock.now()
    )
    assert result.session_token is not None
    return result.session_token
