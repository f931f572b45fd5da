"""Sending a returned card's payout again (退卡重新出款) after the bank rejected it or paid and
returned it (退票): the holder, or the platform's finance, names another account in the
holder's verified name through ``POST /v1/card_returns/{id}/retries`` or the return's
console page; each request makes one new attempt (a replay gets its first answer), the
value owed is paid exactly once, and a late answer about an earlier attempt changes
nothing. The books are checked after every test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.factories import (
    TEST_PASSWORD,
    api_client,
    make_consumer_with_token,
    make_platform_key,
    unique_email,
)
from tests.integration.test_card_returns_api import (  # noqa: F401 - fixtures
    NAME,
    Holder,
    a_card,
    app,
    to_bank,
    world,
)
from tests.integration.test_console import log_in
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.identity import service as identity
from tongka.identity.models import User
from tongka.ledger import get_balance
from tongka.payments.sandbox.payouts import PayoutOutcome, PayoutSimulator, Plan
from tongka.sales.return_models import CardReturnRetry
from tongka.sales.return_payouts import pay_returns, record_answer
from tongka.settlement.payout_channel import PayoutAnswer, SimulatorChannel

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
AMOUNT = 20_000


def new_account(name: str = NAME, number: str = "6217 0000 1111 9876") -> dict[str, object]:
    return {
        "bank_account": {
            "bank_name": "中国建设银行北京分行",
            "account_name": name,
            "account_number": number,
        }
    }


class Bank:
    """The sandbox bank with a clock the test moves (a 退票 comes days later)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.simulator = PayoutSimulator(lambda: self.now)
        self.channel = SimulatorChannel(self.simulator)

    async def pay(self, database: Database, settings: Settings) -> object:
        return await pay_returns(database, self.channel, settings=settings, now=self.now)


async def _returned_card(
    app: FastAPI,  # noqa: F811
    database: Database,
    clock: FixedClock,
    world: Holder,  # noqa: F811
) -> str:
    card_id = await a_card(database, clock, world, AMOUNT)
    async with api_client(app, world.holder_token) as holder:
        created = await holder.post("/v1/card_returns", json=to_bank(card_id))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _payable(database: Database) -> tuple[int, int]:
    async with database.transaction() as session:
        payable = await get_balance(session, "returns_payable:CNY")
    return payable.credits_posted, payable.debits_posted


async def _retries(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(CardReturnRetry)) or 0)


async def _rejected(
    app: FastAPI,  # noqa: F811
    database: Database,
    clock: FixedClock,
    settings: Settings,
    world: Holder,  # noqa: F811
    reason: str,
) -> tuple[str, Bank]:
    """A returned card whose payout the bank rejected with ``reason``; the bank, for more."""
    return_id = await _returned_card(app, database, clock, world)
    bank = Bank(clock.now())
    bank.simulator.plan(Plan(PayoutOutcome.REJECT, reason=reason))
    await bank.pay(database, settings)
    return return_id, bank


async def test_the_holder_sends_a_rejected_payout_again_once_and_it_is_paid_once(
    app: FastAPI,  # noqa: F811
    database: Database,
    clock: FixedClock,
    settings: Settings,
    world: Holder,  # noqa: F811
) -> None:
    # given: the bank rejected the payout
    return_id, bank = await _rejected(app, database, clock, settings, world, "收款账户已销户")
    retries = f"/v1/card_returns/{return_id}/retries"
    async with api_client(app, world.holder_token) as holder:
        # when: the holder names another account, and the call is replayed
        key = {"Idempotency-Key": "retry-1"}
        first = await holder.post(retries, json=new_account(), headers=key)
        replay = await holder.post(retries, json=new_account(), headers=key)
        # then: one new attempt, the replay its first answer
        assert first.status_code == 201, first.text
        assert (replay.status_code, replay.json()) == (201, first.json())
        body = first.json()
        assert (body["status"], body["attempt"], body["failure_reason"]) == ("paying", 2, None)
        assert body["account_number"].endswith("9876")
        assert "1111" not in body["account_number"]
        # a second retry while the first is being paid is refused
        twice = await holder.post(retries, json=new_account(), headers={"Idempotency-Key": "r2"})
        assert twice.status_code == 409, twice.text
        assert twice.json()["error"]["code"] == "card_return_not_retryable"
    assert await _retries(database) == 1
    assert await _payable(database) == (AMOUNT, 0)  # still owed: nothing moved on a rejection

    summary = await bank.pay(database, settings)

    assert summary.paid == [return_id]  # type: ignore[attr-defined]
    assert f"{return_id}-2" in bank.simulator.payouts
    assert bank.simulator.payouts[f"{return_id}-2"].account_last4 == "9876"
    assert bank.simulator.payouts[f"{return_id}-2"].account_name == NAME  # not masked
    assert await _payable(database) == (AMOUNT, AMOUNT)  # paid once
    async with api_client(app, world.holder_token) as holder:
        shown = (await holder.get(f"/v1/card_returns/{return_id}")).json()
        paid_again = await holder.post(retries, json=new_account())
    assert (shown["status"], shown["attempt"]) == ("paid", 2)
    assert paid_again.json()["error"]["code"] == "card_return_not_retryable"
    # a late answer about the rejected first attempt changes nothing
    async with database.transaction() as session:
        status = await record_answer(
            session, return_id, PayoutAnswer("rejected", reason="late"), clock.now(), key=return_id
        )
    assert status == "paid"
    assert await _payable(database) == (AMOUNT, AMOUNT)


async def test_a_returned_payout_is_owed_again_and_the_platform_sends_it_to_another_account(
    app: FastAPI,  # noqa: F811
    database: Database,
    clock: FixedClock,
    settings: Settings,
    world: Holder,  # noqa: F811
) -> None:
    return_id = await _returned_card(app, database, clock, world)
    bank = Bank(clock.now())
    bank.simulator.plan(Plan(PayoutOutcome.RETURN, return_after_days=2))
    assert (await bank.pay(database, settings)).paid == [return_id]  # type: ignore[attr-defined]
    assert await _payable(database) == (AMOUNT, AMOUNT)

    bank.now += timedelta(days=3)  # the receiving bank sends it back (退票)
    summary = await bank.pay(database, settings)

    assert summary.returned == [return_id]  # type: ignore[attr-defined]
    assert await _payable(database) == (2 * AMOUNT, AMOUNT)  # owed to the holder again
    again = await bank.pay(database, settings)
    assert again.returned == []  # type: ignore[attr-defined]
    platform_key = await make_platform_key(database, role="finance")
    async with api_client(app, platform_key) as finance:
        shown = (await finance.get(f"/v1/card_returns/{return_id}")).json()
        assert shown["status"] == "returned"
        assert "退票" in shown["failure_reason"]
        retried = await finance.post(f"/v1/card_returns/{return_id}/retries", json=new_account())
        assert retried.status_code == 201, retried.text
    assert (await bank.pay(database, settings)).paid == [return_id]  # type: ignore[attr-defined]
    assert await _payable(database) == (2 * AMOUNT, 2 * AMOUNT)


@pytest.mark.parametrize("case", ["name_mismatch", "merchant", "another_holder", "bad_number"])
async def test_a_refused_retry_changes_nothing(
    app: FastAPI,  # noqa: F811
    database: Database,
    clock: FixedClock,
    settings: Settings,
    world: Holder,  # noqa: F811
    case: str,
) -> None:
    return_id = await _returned_card(app, database, clock, world)
    bank = Bank(clock.now())
    bank.simulator.plan(Plan(PayoutOutcome.REJECT))
    await bank.pay(database, settings)
    token, body = world.holder_token, new_account()
    expected = (422, "return_account_name_mismatch")
    if case == "name_mismatch":
        body = new_account(name="李四")
    elif case == "merchant":
        token, expected = world.merchant_key, (403, "permission_denied")
    elif case == "another_holder":
        token = (await make_consumer_with_token(database, now=clock.now())).token
        expected = (404, "card_return_not_found")
    else:
        body, expected = new_account(number="12ab"), (400, "card_return_invalid")
    async with api_client(app, token) as caller:
        refused = await caller.post(f"/v1/card_returns/{return_id}/retries", json=body)
    assert (refused.status_code, refused.json()["error"]["code"]) == expected, refused.text
    assert await _retries(database) == 0
    async with api_client(app, world.holder_token) as holder:
        shown = (await holder.get(f"/v1/card_returns/{return_id}")).json()
    assert (shown["status"], shown["attempt"]) == ("rejected", 1)
    assert shown["account_number"].endswith("4567")


@pytest.fixture
async def holder_console(app: FastAPI, world: Holder) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        client.cookies = httpx.Cookies({SESSION_COOKIE: world.holder_token})
        yield client


async def test_the_holder_sends_it_again_from_the_returns_page_once(
    app: FastAPI,  # noqa: F811
    holder_console: httpx.AsyncClient,
    database: Database,
    clock: FixedClock,
    settings: Settings,
    world: Holder,  # noqa: F811
) -> None:
    return_id, bank = await _rejected(app, database, clock, settings, world, "户名不符")
    page_url = f"/console/card_returns/{return_id}"
    page = (await holder_console.get(page_url)).text
    assert "data-retry-form" in page
    assert "户名不符" in page
    csrf, token = CSRF.search(page), TOKEN.search(page)
    assert csrf is not None
    assert token is not None
    form = {"csrf_token": csrf.group(1), "form_token": token.group(1)}
    form |= {
        "bank_name": "中国建设银行",
        "account_name": "李四",
        "account_number": "6217000011119876",
    }

    refused = await holder_console.post(f"{page_url}/retries", data=form)

    assert refused.headers["location"] == page_url
    shown = (await holder_console.get(page_url)).text
    error = re.search(r'id="account_name-error"[^>]*>([^<]+)<', shown)
    assert error is not None
    assert "本人名下" in error.group(1)
    assert "6217000011119876" not in shown
    assert await _retries(database) == 0

    form["account_name"] = NAME
    first = await holder_console.post(f"{page_url}/retries", data=form)
    again = await holder_console.post(f"{page_url}/retries", data=form)  # a double tap

    assert first.status_code == again.status_code == 303
    assert await _retries(database) == 1
    shown = (await holder_console.get(page_url)).text
    assert 'data-return-status="paying"' in shown
    assert 'data-attempt="2"' in shown
    assert "**** 9876" in shown
    assert "data-retry-form" not in shown


async def test_platform_finance_may_send_it_again_from_the_console_and_the_issuer_may_not(
    app: FastAPI,  # noqa: F811
    database: Database,
    clock: FixedClock,
    settings: Settings,
    world: Holder,  # noqa: F811
) -> None:
    return_id = await _returned_card(app, database, clock, world)
    bank = Bank(clock.now())
    bank.simulator.plan(Plan(PayoutOutcome.REJECT))
    await bank.pay(database, settings)
    page_url = f"/console/card_returns/{return_id}"
    finance_email = unique_email("finance")
    async with database.transaction() as session:
        await identity.create_user(
            session,
            email=finance_email,
            display_name="财务",
            role="finance",
            password=TEST_PASSWORD,
            actor="test",
            now=clock.now(),
        )
        issuer_email = await session.scalar(
            select(User.email).where(
                User.merchant_id == world.merchant_id, User.role == "merchant_admin"
            )
        )
    assert issuer_email is not None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as issuer:
        assert (await log_in(issuer, issuer_email, TEST_PASSWORD)).status_code == 303
        shown = await issuer.get(page_url)
        assert shown.status_code == 200
        assert "data-retry-form" not in shown.text
        csrf = CSRF.search(shown.text)
        assert csrf is not None
        refused = await issuer.post(
            f"{page_url}/retries", data={"csrf_token": csrf.group(1), "account_name": NAME}
        )
        assert refused.status_code == 403
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as finance:
        assert (await log_in(finance, finance_email, TEST_PASSWORD)).status_code == 303
        page = (await finance.get(page_url)).text
        assert "data-retry-form" in page
        csrf, token = CSRF.search(page), TOKEN.search(page)
        assert csrf is not None
        assert token is not None
        sent = await finance.post(
            f"{page_url}/retries",
            data={
                "csrf_token": csrf.group(1),
                "form_token": token.group(1),
                "bank_name": "中国建设银行",
                "account_name": NAME,
                "account_number": "6217000011119876",
            },
        )
        assert sent.headers["location"] == page_url
        assert 'data-return-status="paying"' in (await finance.get(page_url)).text
    assert await _retries(database) == 1
    assert (await bank.pay(database, settings)).paid == [return_id]  # type: ignore[attr-defined]
