"""Split rules (分账) applied at settlement: an issuer's card redeemed at an acceptor gives
the issuer its part of the line, moved from the acceptor's payable in the acceptor's batch
(a ``split`` line) and settled in the issuer's next batch; sums exact, runs idempotent."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tests.cards_support import assert_ledger_verifies, grant_quota
from tests.redemption_support import make_till
from tests.settlement_world import World, at
from tongka import ledger
from tongka.cards import acceptance
from tongka.cards.acceptance import Acceptance
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
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


@pytest.fixture
def world(database: Database, clock: FixedClock, settings: Settings) -> World:
    return World(database, clock, settings)


async def _cross_issuer(world: World, *, rule: dict[str, object] | None) -> None:
    """ISSUER and ACCEPTOR with contracts; ACCEPTOR takes ISSUER's cards (agreement, and a
    product naming it); the ``CROSS`` till is an ISSUER card at ACCEPTOR's store."""
    await world.merchant(ISSUER, MON)
    acceptor = await world.merchant(ACCEPTOR, MON)
    now = world.clock.now()
    async with world.database.transaction() as session:
        await grant_quota(session, now, 10**10, ISSUER)
        agreement = await acceptance.propose_agreement(
            session, ISSUER, ACCEPTOR, note=None, actor="user:issuer", now=now
        )
        await acceptance.decide_agreement(
            session,
            agreement.id,
            is_approved=True,
            merchant_id=ACCEPTOR,
            note=None,
            actor="user:acceptor",
            now=now,
        )
        card = await make_till(
            session,
            now,
            amount=100_000,
            merchant_id=ISSUER,
            acceptance=Acceptance.MERCHANTS,
            accepted_merchant_ids=[ACCEPTOR],
        )
        if rule is not None:
            await set_rule(
                session,
                ISSUER,
                ACCEPTOR,
                rule,
                effective_date=MON,
                today=MON,
                actor="user:ops",
                now=now,
            )
    world.tills[CROSS] = replace(card, merchant_id=ACCEPTOR, store_id=acceptor.store_id)


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
        {"shares": [{"party": "platform", "percent": "1"}]},
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
