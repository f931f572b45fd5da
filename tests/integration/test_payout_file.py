"""Payouts through a bank batch payment file (批量代付文件): the day's payouts in one GBK
file, the sandbox bank's desk pays it line by line and answers a result file — one line
accepted, one rejected, one returned (退票) a day later; each imported twice changes
nothing; the rejected and the returned money goes out again in a later file, under new
keys, and no payout is paid twice; the ledger verifies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from tests.cards_support import assert_ledger_verifies
from tests.settlement_world import World, at
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments.batch_file import PAYMENT_COLUMNS, read_payments, read_results
from tongka.payments.sandbox.app import create_gateway
from tongka.payments.sandbox.batch_payouts import BatchDesk
from tongka.payments.sandbox.payouts import PayoutOutcome, Plan
from tongka.settlement.errors import PayoutResultsInvalid
from tongka.settlement.models import Payout
from tongka.settlement.payout_channel import FilePayoutChannel, HttpPayoutChannel, channel_of
from tongka.settlement.payout_file import (
    PayoutFile,
    fetch_results,
    import_results,
    payout_file,
    submit_file,
)
from tongka.settlement.service import settle_date

MON, TUE, WED, THU = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)
OUTCOMES = {
    "mch_a": Plan(PayoutOutcome.ACCEPT),
    "mch_b": Plan(PayoutOutcome.REJECT, reason="户名不符"),
    "mch_c": Plan(PayoutOutcome.RETURN, return_after_days=1),
}


@pytest.fixture
def world(database: Database, clock: FixedClock, settings: Settings) -> World:
    settings.payout_channel = "file"
    return World(database, clock, settings)


async def _settle(world: World, day: date, on: date, hour: int = 2) -> None:
    world.clock.current = at(on, hour)
    await settle_date(
        world.database,
        day,
        channel=FilePayoutChannel(),
        settings=world.settings,
        now=world.clock.now(),
        pay_through=on,
    )


async def _merchant_of(database: Database, key: str) -> str:
    async with database.transaction() as session:
        payout = await session.scalar(select(Payout).where(Payout.idempotency_key == key))
    assert payout is not None
    return payout.merchant_id


async def _send(world: World, desk: BatchDesk, made: PayoutFile, *, plans: bool) -> None:
    if plans:
        for line in made.lines:
            world.simulator.plan(OUTCOMES[await _merchant_of(world.database, line.reference)])
    desk.receive(made.name, made.content())


async def _import(world: World, desk: BatchDesk, name: str) -> dict[str, list[str]]:
    result = desk.result(name)
    assert result is not None
    summary = await import_results(world.database, lambda: [result], now=world.clock.now())
    statuses = ("paid", "rejected", "returned", "unchanged", "unknown", "mismatched")
    return {
        status: sorted([await _merchant_of(world.database, key) for key in keys])
        for status in statuses
        if (keys := getattr(summary, status))
    }


async def _statuses(world: World, merchant_id: str) -> list[str]:
    return [payout.status for payout in await world.payouts(merchant_id)]


async def test_accepted_rejected_and_returned_lines(world: World) -> None:
    # given three merchants' Monday, settled on Tuesday through the file channel
    for merchant_id, amount in (("mch_a", 10_000), ("mch_b", 5_000), ("mch_c", 2_000)):
        await world.merchant(merchant_id, MON)
        await world.redeem(merchant_id, MON, amount)
    world.simulator.now = world.clock.now
    desk = BatchDesk(world.simulator)
    await _settle(world, MON, on=TUE)
    assert await _statuses(world, "mch_a") == ["unknown"]  # in no file yet: nothing sent

    # when Tuesday's payment file is written (twice: the same file)
    made = await payout_file(world.database, TUE, settings=world.settings, now=world.clock.now())
    again = await payout_file(world.database, TUE, settings=world.settings, now=world.clock.now())
    # then it holds the three payouts in the bank's layout, GBK
    content = made.content()
    assert again.content() == content
    assert made.name == "PAY20261117"
    assert content.decode("gb18030").splitlines()[0] == ",".join(PAYMENT_COLUMNS)
    assert sorted(line.amount_minor for line in read_payments(content)) == [1_988, 4_970, 9_940]
    assert made.total_minor == 16_898

    # when the bank pays it and its result file is imported
    await _send(world, desk, made, plans=True)
    world.clock.current = at(TUE, 3)
    # a result file with a bad line applies nothing
    broken = desk.result(made.name).replace("成功".encode("gb18030"), b"OK", 1)  # type: ignore[union-attr]
    with pytest.raises(PayoutResultsInvalid):
        await import_results(world.database, lambda: [broken], now=world.clock.now())
    assert await _statuses(world, "mch_a") == ["unknown"]
    first = await _import(world, desk, made.name)
    # then one is paid, one refused (its net carried), one paid that will come back
    assert first == {"paid": ["mch_a", "mch_c"], "rejected": ["mch_b"]}
    assert await world.payable("mch_b") == 4_970
    # and the same file again changes nothing
    assert await _import(world, desk, made.name) == {"unchanged": ["mch_a", "mch_b", "mch_c"]}

    # when, a day later, the result file shows the 退票
    world.clock.current = at(WED, 3)
    later = desk.result(made.name)
    assert later is not None
    assert [line.result for line in read_results(later)].count("退票") == 1
    assert await _import(world, desk, made.name) == {
        "returned": ["mch_c"],
        "unchanged": ["mch_a", "mch_b"],
    }
    assert await _import(world, desk, made.name) == {"unchanged": ["mch_a", "mch_b", "mch_c"]}
    assert await world.payable("mch_c") == 1_988  # owed again

    # when Tuesday and Wednesday are settled and their files paid
    await _settle(world, TUE, on=WED, hour=4)
    wednesday = await payout_file(
        world.database, WED, settings=world.settings, now=world.clock.now()
    )
    assert [await _merchant_of(world.database, line.reference) for line in wednesday.lines] == [
        "mch_b"
    ]
    await _send(world, desk, wednesday, plans=False)
    assert await _import(world, desk, wednesday.name) == {"paid": ["mch_b"]}
    await _settle(world, WED, on=THU)
    thursday = await payout_file(
        world.database, THU, settings=world.settings, now=world.clock.now()
    )
    await _send(world, desk, thursday, plans=False)
    assert await _import(world, desk, thursday.name) == {"paid": ["mch_c"]}

    # then everyone has what they earned, once; no payout is in two files
    assert await _statuses(world, "mch_a") == ["paid"]
    assert await _statuses(world, "mch_b") == ["rejected", "paid"]
    assert await _statuses(world, "mch_c") == ["returned", "paid"]
    for merchant_id in OUTCOMES:
        assert await world.payable(merchant_id) == 0
    kept = {}
    for payout in world.simulator.payouts.values():
        answer = payout.answer(world.clock.now())
        if answer["status"] == "accepted":
            kept[payout.account_name] = kept.get(payout.account_name, 0) + payout.amount_minor
    assert sorted(kept.values()) == [1_988, 4_970, 9_940]
    assert len({line.reference for f in (made, wednesday, thursday) for line in f.lines}) == 5
    await assert_ledger_verifies(world.database, world.clock.now())


@pytest.fixture
async def gateway(
    settings: Settings, clock: FixedClock
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_gateway(settings, now=clock.now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http, app.state.payouts


async def test_the_sandbox_bank_takes_a_file_over_http(gateway, world: World) -> None:  # type: ignore[no-untyped-def]
    http, simulator = gateway
    await world.merchant("mch_a", MON)
    await world.redeem("mch_a", MON, 10_000)
    await _settle(world, MON, on=TUE)
    made = await payout_file(world.database, TUE, settings=world.settings, now=world.clock.now())
    simulator.plan(Plan(PayoutOutcome.TIMEOUT))  # type: ignore[attr-defined]
    # the upload's answer times out, but the bank has the file: sending it again is safe
    assert await submit_file("http://gateway", http, made) is False
    assert await submit_file("http://gateway", http, made) is True
    result = await fetch_results("http://gateway", http, made.name)
    assert result is not None
    assert [line.result for line in read_results(result)] == ["成功"]
    assert len(simulator.payouts) == 1  # type: ignore[attr-defined]
    assert await fetch_results("http://gateway", http, "PAY20000101") is None
    bad = await http.post("/bank/batch_payouts/PAYBAD", content="序号,金额\n".encode("gb18030"))
    assert bad.status_code == 400
    summary = await import_results(world.database, lambda: [result], now=world.clock.now())
    assert len(summary.paid) == 1
    await assert_ledger_verifies(world.database, world.clock.now())


def test_the_channel_is_chosen_by_settings(settings: Settings) -> None:
    http = httpx.AsyncClient()
    assert isinstance(channel_of(settings, http), HttpPayoutChannel)  # the default
    settings.payout_channel = "file"
    assert isinstance(channel_of(settings, http), FilePayoutChannel)


async def test_a_payout_in_a_file_is_never_sent_another_way(world: World) -> None:
    await world.merchant("mch_a", MON)
    await world.redeem("mch_a", MON, 10_000)
    await _settle(world, MON, on=TUE)
    made = await payout_file(world.database, TUE, settings=world.settings, now=world.clock.now())
    assert len(made.lines) == 1
    # the channel switched back to single payouts: the next run asks, and sends nothing
    world.simulator.now = world.clock.now
    await world.run(TUE, on=WED)
    assert world.simulator.payouts == {}
    assert await _statuses(world, "mch_a") == ["unknown"]
