"""The fee a redemption takes: the acceptor's contract, own-card or other-issuer terms."""

from __future__ import annotations

from datetime import date

from tests.cards_support import KEYS, active_product, ensure_merchant, funded_card
from tests.redemption_support import Till, make_store, request
from tests.settlement_support import make_contract
from tongka.cards import acceptance
from tongka.cards.acceptance import Acceptance
from tongka.clock import FixedClock, business_date
from tongka.config import Settings
from tongka.db import Database
from tongka.ledger import get_balance
from tongka.redemption import fees, service
from tongka.redemption.fees import merchant_payable_id

ISSUER = "mch_issuer"
ACCEPTOR = "mch_acceptor"


async def test_another_issuers_card_takes_the_other_issuer_terms(
    database: Database, clock: FixedClock, settings: Settings
) -> None:
    """A card issued by A, redeemed at B: B's contract's other-issuer fee (1 %, at least
    50 fen), not its own-card fee (0.3 %); B's own card at the same till: the own fee."""
    now = clock.now()
    today = business_date(now, settings.timezone)
    async with database.transaction() as session:
        await ensure_merchant(session, ISSUER, now)
        await ensure_merchant(session, ACCEPTOR, now)
        agreement = await acceptance.propose_agreement(
            session, ISSUER, ACCEPTOR, note=None, actor="t", now=now
        )
        await acceptance.decide_agreement(
            session,
            agreement.id,
            is_approved=True,
            merchant_id=ACCEPTOR,
            note=None,
            actor="t",
            now=now,
        )
        product = await active_product(
            session,
            now,
            merchant_id=ISSUER,
            acceptance=Acceptance.MERCHANTS,
            accepted_merchant_ids=[ACCEPTOR],
        )
        issued = await funded_card(session, now, product, amount=50_000)
        own_product = await active_product(session, now, merchant_id=ACCEPTOR)
        own = await funded_card(session, now, own_product, amount=50_000)
        store = await make_store(session, ACCEPTOR, now)
        await make_contract(session, ACCEPTOR, date(today.year, 1, 1), settings=settings, now=now)
        rate = await fees.redemption_fees(
            session,
            ACCEPTOR,
            default_rate=settings.redemption_fee_rate,
            timezone=settings.timezone,
            now=now,
        )
    other_till = Till(ACCEPTOR, store, issued.card.id, issued.number, issued.secret, product.id)
    own_till = Till(ACCEPTOR, store, own.card.id, own.number, own.secret, own_product.id)
    async with database.transaction() as session:
        other, mine = [
            await service.redeem(
                session,
                request(till, 10_000, key),
                keys=KEYS,
                fee_rate=rate,  # type: ignore[arg-type]  # fee_of takes both
                now=now,
            )
            for till, key in ((other_till, "other"), (own_till, "own"))
        ]
    assert (other.status, other.redemptions[0].fee) == ("approved", 100)
    assert (mine.status, mine.redemptions[0].fee) == ("approved", 30)
    async with database.transaction() as session:
        payable = await get_balance(session, merchant_payable_id(ACCEPTOR, "CNY"))
    assert payable.posted == 20_000 - 100 - 30  # the ledger took the same fees
