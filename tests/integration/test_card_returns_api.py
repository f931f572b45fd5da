"""``/v1/card_returns`` through HTTP (退卡): a card returned under the regulation pays its
paid value out to a bank account in the holder's own name (cash at a till only for ¥100
or less), forfeits its bonus, and is closed; every rule refuses by name at, just under and
just over ¥100; the platform changes the cash limit in ``/v1/card_regulation``; the payout
follows through the payout channel. The books are checked after every test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from tests.cards_support import NAMED, active_product, balance_of, funded_card
from tests.factories import (
    api_client,
    make_consumer_with_token,
    make_merchant_with_key,
    make_platform_key,
)
from tongka.api.app import create_app
from tongka.cards.products import get_product
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity import service as identity
from tongka.identity.models import KycLevel
from tongka.ledger import get_balance
from tongka.payments.sandbox.payouts import PayoutOutcome, PayoutSimulator, Plan
from tongka.sales.return_payouts import pay_returns
from tongka.settlement.payout_channel import SimulatorChannel

AMOUNTS = pytest.mark.parametrize(
    "amount", [9_999, 10_000, 10_001], ids=["under_100", "at_100", "over_100"]
)
NAME = "张三"


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@dataclass(frozen=True)
class Holder:
    merchant_key: str
    merchant_id: str
    holder_token: str
    holder_id: str
    product_id: str


@pytest.fixture
async def world(database: Database, clock: FixedClock) -> Holder:
    merchant = await make_merchant_with_key(database, now=clock.now())
    holder = await make_consumer_with_token(database, kyc_level=KycLevel.ID_CARD, now=clock.now())
    async with database.transaction() as session:
        await identity.set_kyc_level(
            session,
            holder.consumer_id,
            KycLevel.ID_CARD,
            actor="t",
            now=clock.now(),
            verified_name=NAME,
        )
        product = await active_product(
            session,
            clock.now(),
            merchant_id=merchant.merchant_id,
            **{k: getattr(NAMED, k) for k in ("name", "is_named", "max_balance")},
            validity_months=None,
        )
    return Holder(
        merchant.api_key, merchant.merchant_id, holder.token, holder.consumer_id, product.id
    )


async def a_card(
    database: Database,
    clock: FixedClock,
    world: Holder,
    amount: int,
    *,
    bonus: int = 0,
    product_id: str | None = None,
    holder_id: str | None = "holder",
) -> str:
    async with database.transaction() as session:
        product = await get_product(session, product_id or world.product_id)
        issued = await funded_card(
            session,
            clock.now(),
            product,
            amount=amount,
            bonus=bonus,
            holder_id=world.holder_id if holder_id == "holder" else holder_id,
        )
    return issued.card.id


def to_bank(card_id: str, name: str = NAME) -> dict[str, object]:
    return {
        "card_id": card_id,
        "method": "bank_account",
        "bank_account": {
            "bank_name": "中国工商银行上海分行",
            "account_name": name,
            "account_number": "6222 0210 0123 4567",
        },
    }


@AMOUNTS
async def test_a_till_pays_cash_for_100_or_less_and_refuses_more(
    app: FastAPI, database: Database, clock: FixedClock, world: Holder, amount: int
) -> None:
    card_id = await a_card(database, clock, world, amount, bonus=500)
    async with api_client(app, world.merchant_key) as merchant:
        answer = await merchant.post(
            "/v1/card_returns", json={"card_id": card_id, "method": "cash"}
        )
        card = (await merchant.get(f"/v1/cards/{card_id}")).json()
    if amount > 10_000:
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "return_cash_over_limit"
        assert "¥100.00" in error["message"]
        assert card["status"] == "active"
        assert (await balance_of(database, card_id)).total == amount + 500
        return
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["status"], body["method"]) == ("paid_cash", "cash")
    assert body["amount"] == {"amount": amount, "currency": "CNY"}
    assert body["bonus_forfeited"] == {"amount": 500, "currency": "CNY"}
    assert card["status"] == "closed"
    assert (await balance_of(database, card_id)).total == 0
    async with database.transaction() as session:
        payable = await get_balance(session, f"merchant:{world.merchant_id}:payable:CNY")
    assert payable.credits_posted - payable.debits_posted == amount + 500


@AMOUNTS
async def test_a_holder_returns_a_card_to_their_own_account_and_it_is_paid_out(
    app: FastAPI,
    database: Database,
    clock: FixedClock,
    settings: Settings,
    world: Holder,
    amount: int,
) -> None:
    card_id = await a_card(database, clock, world, amount, bonus=300)
    async with api_client(app, world.holder_token) as holder:
        first = await holder.post(
            "/v1/card_returns", json=to_bank(card_id), headers={"Idempotency-Key": "ret-1"}
        )
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["status"] == "paying"
        assert body["amount"]["amount"] == amount
        assert body["account_number"].endswith("4567")
        assert "0123" not in body["account_number"]
        assert body["account_name"] != NAME  # masked
        replay = await holder.post(
            "/v1/card_returns", json=to_bank(card_id), headers={"Idempotency-Key": "ret-1"}
        )
        assert replay.json()["id"] == body["id"]
        again = await holder.post("/v1/card_returns", json=to_bank(card_id))
        assert again.status_code in (409, 422)
        assert again.json()["error"]["code"] in ("card_return_exists", "card_movement_refused")
    # the payout follows: the bank accepts it under the return's key
    simulator = PayoutSimulator()
    summary = await pay_returns(
        database, SimulatorChannel(simulator), settings=settings, now=clock.now()
    )
    assert summary.paid == [body["id"]]
    assert (
        await pay_returns(database, SimulatorChannel(simulator), settings=settings, now=clock.now())
        == type(summary)()
    )
    async with api_client(app, world.holder_token) as holder:
        shown = (await holder.get(f"/v1/card_returns/{body['id']}")).json()
        listed = (await holder.get("/v1/card_returns")).json()["data"]
    assert shown["status"] == "paid"
    assert [row["id"] for row in listed] == [body["id"]]
    async with database.transaction() as session:
        payable = await get_balance(session, "returns_payable:CNY")
    assert payable.credits_posted == payable.debits_posted == amount


async def test_a_rejected_payout_is_recorded_with_the_banks_reason(
    app: FastAPI, database: Database, clock: FixedClock, settings: Settings, world: Holder
) -> None:
    card_id = await a_card(database, clock, world, 10_000)
    async with api_client(app, world.merchant_key) as merchant:
        created = await merchant.post("/v1/card_returns", json=to_bank(card_id))
        assert created.status_code == 201, created.text
    simulator = PayoutSimulator()
    simulator.plan(Plan(PayoutOutcome.REJECT, reason="户名不符"))
    summary = await pay_returns(
        database, SimulatorChannel(simulator), settings=settings, now=clock.now()
    )
    assert summary.rejected == [created.json()["id"]]
    async with api_client(app, world.merchant_key) as merchant:
        shown = (await merchant.get(f"/v1/card_returns/{created.json()['id']}")).json()
    assert (shown["status"], shown["failure_reason"]) == ("rejected", "户名不符")


@AMOUNTS
@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("name_mismatch", "return_account_name_mismatch"),
        ("unverified", "return_holder_unverified"),
        ("anonymous", "return_card_not_named"),
        ("holder_cash", "return_cash_at_till"),
    ],
)
async def test_each_rule_refuses_by_name_and_changes_nothing(
    app: FastAPI,
    database: Database,
    clock: FixedClock,
    world: Holder,
    amount: int,
    case: str,
    code: str,
) -> None:
    token, body = world.holder_token, None
    if case == "name_mismatch":
        card_id = await a_card(database, clock, world, amount)
        body = to_bank(card_id, name="李四")
    elif case == "unverified":
        other = await make_consumer_with_token(database, kyc_level=KycLevel.ID_CARD)
        card_id = await a_card(database, clock, world, amount, holder_id=other.consumer_id)
        token, body = other.token, to_bank(card_id)
    elif case == "anonymous":
        async with database.transaction() as session:
            product = await active_product(session, clock.now(), merchant_id=world.merchant_id)
        card_id = await a_card(
            database, clock, world, amount, product_id=product.id, holder_id=None
        )
        token, body = world.merchant_key, to_bank(card_id)
    else:
        card_id = await a_card(database, clock, world, amount)
        body = {"card_id": card_id, "method": "cash"}
    async with api_client(app, token) as client:
        refused = await client.post("/v1/card_returns", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == code
        assert (await client.get("/v1/card_returns")).json()["data"] == []
    assert (await balance_of(database, card_id)).paid == amount


async def test_the_platform_sets_the_cash_limit_and_scoping_holds(
    app: FastAPI, database: Database, clock: FixedClock, world: Holder
) -> None:
    platform_key = await make_platform_key(database)
    async with api_client(app, platform_key) as platform:
        current = (await platform.get("/v1/card_regulation")).json()
        assert current["return_rules"] == {
            "is_enforced": True,
            "cash_max_minor": 10_000,
            "is_named_only": True,
        }
        body = {k: v for k, v in current.items() if k != "object"}
        body["return_rules"] = current["return_rules"] | {"cash_max_minor": 5_000}
        changed = await platform.post("/v1/card_regulation", json=body)
        assert changed.status_code == 200, changed.text
    card_id = await a_card(database, clock, world, 9_999)
    other = await make_merchant_with_key(database, legal_name="别家商户有限公司")
    async with api_client(app, other.api_key) as stranger:
        hidden = await stranger.post(
            "/v1/card_returns", json={"card_id": card_id, "method": "cash"}
        )
        assert hidden.status_code == 404
    async with api_client(app, world.merchant_key) as merchant:
        refused = await merchant.post(
            "/v1/card_returns", json={"card_id": card_id, "method": "cash"}
        )
    assert refused.json()["error"]["code"] == "return_cash_over_limit"
    assert "¥50.00" in refused.json()["error"]["message"]


async def test_a_payout_without_an_answer_is_asked_for_again_by_its_key(
    app: FastAPI, database: Database, clock: FixedClock, settings: Settings, world: Holder
) -> None:
    card_id = await a_card(database, clock, world, 10_001)
    async with api_client(app, world.holder_token) as holder:
        created = await holder.post("/v1/card_returns", json=to_bank(card_id))
        assert created.status_code == 201, created.text
    simulator = PayoutSimulator()
    simulator.plan(Plan(PayoutOutcome.TIMEOUT))
    channel = SimulatorChannel(simulator)
    first = await pay_returns(database, channel, settings=settings, now=clock.now())
    assert first.unknown == [created.json()["id"]]
    second = await pay_returns(database, channel, settings=settings, now=clock.now())
    assert second.paid == [created.json()["id"]]
    async with database.transaction() as session:
        payable = await get_balance(session, "returns_payable:CNY")
    assert payable.credits_posted == payable.debits_posted == 10_001
