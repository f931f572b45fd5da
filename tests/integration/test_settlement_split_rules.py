"""Split rules (分账) applied at settlement: an issuer's card redeemed at an acceptor gives
the issuer its part of the line, moved from the acceptor's payable in the acceptor's batch
(a ``split`` line) and settled in the issuer's next batch; sums exact, runs idempotent."""

from __future__ import annotations

from datetime import date

import pytest

from tests.cards_support import assert_ledger_verifies
from tests.settlement_world import World, at
from tongka import ledger
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger import AccountCode
from tongka.ledger.system_accounts import system_account
from tongka.settlement.errors import SplitInvalid
from tongka.settlement.net_positions import net_positions
from tongka.settlement.split_postings import transit_account_id
from tongka.settlement.split_rules import rule_of_json, rule_on, set_rule

MON, TUE, WED = date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)
ISSUER, ACCEPTOR, CROSS = "mch_issuer", "mch_acceptor", "cross"
CAPPED = {  # the issuer's 70 %, capped at 30 % of the line (as a channel caps a split)
    "shares": [
        {"party": "issuer", "percent": "0.7", "cap_percent": "0.3"},
        {"party": "acceptor", "percent": "0.3"},
    ],
    "remainder": "largest_remainder",
    "excess_party": "acceptor",
}


THREE_WAY = {  # issuer 70 % capped at 30 % of the line, acceptor 25 %, platform 5 %
    "shares": [
        {"party": "issuer", "percent": "0.7", "cap_percent": "0.3"},
        {"party": "acceptor", "percent": "0.25"},
        {"party": "platform", "percent": "0.05"},
    ],
    "remainder": "largest_remainder",
    "excess_party": "acceptor",
}


@pytest.fixture
def world(database: Database, clock: FixedClock, settings: Settings) -> World:
    return World(database, clock, settings)


async def _cross_issuer(world: World, *, rule: dict[str, object] | None) -> None:
    """ISSUER and ACCEPTOR with contracts; the ``CROSS`` till is an ISSUER card at
    ACCEPTOR's store (``World.cross_till``), the pair's rule from MON."""
    await world.merchant(ISSUER, MON)
    await world.merchant(ACCEPTOR, MON)
    await world.cross_till(CROSS, ISSUER, ACCEPTOR, rule=rule)


async def _kinds(world: World, merchant_id: str, day: date) -> list[tuple[str, int]]:
    batch = next(b for b in await world.batches(merchant_id) if b.business_date == day)
    lines = await world.lines(batch.id)
    assert batch.net == sum(line.amount for line in lines)  # the net is its lines' sum
    return [(line.kind, line.amount) for line in lines]


async def test_a_capped_split_moves_the_issuers_part_to_its_next_batch(world: World) -> None:
    await _cross_issuer(world, rule=CAPPED)
    redemption = await world.redeem(CROSS, MON, 10_000)
    await world.run(MON)
    [(kind, taken), split_line] = await _kinds(world, ACCEPTOR, MON)
    part = taken * 3 // 10  # 70 % capped at 30 %, rounded down so the cap holds
    assert kind == "redemption"
    assert split_line == ("split", -part)
    assert await world.payable(ISSUER) == part  # on the issuer's payable, not yet settled
    async with world.database.transaction() as session:
        [position] = await net_positions(session, MON)
    assert (position.debtor_id, position.creditor_id) == (ISSUER, ACCEPTOR)
    assert position.net == taken - part  # the issuer's part is not owed to the acceptor
    # a re-run of the date changes nothing
    again = await world.run(MON)
    assert again.built == []
    assert await world.payable(ISSUER) == part
    # a refund of the split redemption is split the same way, signed
    await world.refund(redemption, TUE, 1_000)
    await world.run(TUE)
    assert await _kinds(world, ISSUER, TUE) == [("split", part)]
    [(refund_kind, refunded), (split_kind, back)] = await _kinds(world, ACCEPTOR, TUE)
    assert (refund_kind, split_kind) == ("refund", "split")
    assert back == (-refunded) * 3 // 10
    await world.run(WED)
    assert await _kinds(world, ISSUER, WED) == [("split", -back)]
    # the transit account is left empty; the ledger verifies
    async with world.database.transaction() as session:
        balance = await ledger.get_balance(session, transit_account_id("CNY"))
    assert balance.posted == 0
    await assert_ledger_verifies(world.database, world.clock.now())


async def _fee_income(world: World) -> int:
    async with world.database.transaction() as session:
        account = await system_account(
            session, AccountCode.FEE_INCOME, "CNY", now=world.clock.now()
        )
        return (await ledger.get_balance(session, account)).posted


async def test_a_three_way_split_caps_the_issuer_and_gives_the_platform_its_part(
    world: World,
) -> None:
    # given a three-way rule; 10,031 redeemed less its fee (60) = 9,971
    await _cross_issuer(world, rule=THREE_WAY)
    before = await _fee_income(world)
    redemption = await world.redeem(CROSS, MON, 10_031)
    # when the acceptor's day is settled
    await world.run(MON)
    # then 70/25/5 % of 9,971 = 6,979.7 / 2,492.75 / 498.55 → 6,979 / 2,492 / 498, the two
    # fen left go to the largest fractions (acceptor .75, issuer .7): 6,980 / 2,493 / 498;
    # the issuer is capped at 30 % (2,991) and its excess goes to the acceptor (6,482)
    assert await _kinds(world, ACCEPTOR, MON) == [
        ("redemption", 9_971),
        ("split", -2_991),
        ("split", -498),
    ]
    batch = next(b for b in await world.batches(ACCEPTOR) if b.business_date == MON)
    lines = await world.lines(batch.id)
    assert [line.transfer_id for line in lines[1:]] == [
        f"split:{lines[0].transfer_id}",
        f"split:{lines[0].transfer_id}:platform",
    ]
    assert lines[2].code == "settlement_split_platform"
    assert await world.payable(ISSUER) == 2_991
    assert await _fee_income(world) - before == 60 + 498  # the fee and the platform's part
    async with world.database.transaction() as session:
        [position] = await net_positions(session, MON)
    # the platform is no party: the acceptor is owed what it keeps
    assert (position.debtor_id, position.creditor_id, position.net) == (ISSUER, ACCEPTOR, 6_482)
    # a refund gives both parts back, signed; a re-run changes nothing
    await world.refund(redemption, TUE, 2_000)
    await world.run(TUE)
    [(_, refunded), (_, issuer_back), (_, platform_back)] = await _kinds(world, ACCEPTOR, TUE)
    assert refunded < 0 < issuer_back
    assert 0 < platform_back < issuer_back
    assert (await world.run(TUE)).built == []
    await assert_ledger_verifies(world.database, world.clock.now())


async def test_without_a_rule_nothing_is_split(world: World) -> None:
    await _cross_issuer(world, rule=None)
    await world.redeem(CROSS, MON, 10_000)
    await world.run(MON)
    assert [kind for kind, _ in await _kinds(world, ACCEPTOR, MON)] == ["redemption"]
    assert await world.batches(ISSUER) == []  # nothing ever reached the issuer


async def test_a_new_version_replaces_the_rule_from_its_date(world: World) -> None:
    await _cross_issuer(world, rule=CAPPED)
    world.clock.current = at(MON, 11)
    even = {
        "shares": [{"party": "issuer", "percent": "0.5"}, {"party": "acceptor", "percent": "0.5"}]
    }
    async with world.database.transaction() as session:
        row = await set_rule(
            session,
            ISSUER,
            ACCEPTOR,
            even,
            effective_date=TUE,
            today=MON,
            actor="u",
            now=world.clock.now(),
        )
        assert row.version == 2
        assert await rule_on(session, ISSUER, ACCEPTOR, MON) == rule_of_json(CAPPED)
        assert await rule_on(session, ISSUER, ACCEPTOR, TUE) == rule_of_json(even)
        with pytest.raises(SplitInvalid):
            await set_rule(
                session,
                ISSUER,
                ACCEPTOR,
                even,
                effective_date=date(2026, 9, 1),
                today=MON,
                actor="u",
                now=world.clock.now(),
            )


@pytest.mark.parametrize(
    "raw",
    [
        {"shares": []},
        {"shares": [{"party": "bank", "percent": "1"}]},
        {"shares": [{"party": "issuer", "percent": 0.5}, {"party": "acceptor", "percent": "0.5"}]},
        {
            "shares": [
                {"party": "issuer", "percent": "0.6"},
                {"party": "acceptor", "percent": "0.6"},
            ]
        },
        {"shares": [{"party": "issuer", "percent": "1"}], "remainder": "nope"},
    ],
)
def test_bad_rules_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(SplitInvalid):
        rule_of_json(raw)
