"""A console world for page walks: the demo data (``tongka demo``: two merchants with a
store, cards with value, a card holder with a named card), a signed-in session for each
role, and real ids to fill the console's path parameters with.

Built once per test module (it costs a second or two): the width walk in
``tests/browser/test_console_width.py`` and the home-page tests both use it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select

from tests.cards_support import funded_card
from tests.factories import TEST_KEYS, TEST_PASSWORD, unique_email
from tests.integration.test_policy_routes import declarations
from tests.promotions_support import fund_merchant, promotion_spec
from tests.receipts_support import issued as issued_receipt
from tests.receipts_support import sample_facts
from tests.reconciliation_support import seeded_run
from tongka.cards import service as cards
from tongka.config import Settings
from tongka.db import Database
from tongka.demo import load_demo_data
from tongka.identity import service as identity
from tongka.identity.models import User
from tongka.identity.principal import Principal
from tongka.policy import Action
from tongka.sales import promotions
from tongka.sales.card_returns import ReturnRequest, start_return
from tongka.sales.return_rules import ReturnMethod
from tongka.webhooks import service as webhooks

PARAMETER = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Caller:
    name: str
    token: str
    principal: Principal


@dataclass
class ConsoleWorld:
    credentials: dict[str, Any]
    callers: list[Caller]
    ids: dict[str, str]  # path parameter -> a real object's id
    consumer_card_id: str
    other_card_id: str  # a card that is not the demo holder's
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self, template: str) -> str:
        """``template`` with its parameters filled (the holder's own card under /me)."""
        ids = dict(self.ids)
        if template.startswith("/console/me/"):
            ids["card_id"] = self.consumer_card_id

        def filled(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in ids:
                raise LookupError(
                    f"{template}: no demo object for {{{name}}}; add one to build_world"
                )
            return ids[name]

        return PARAMETER.sub(filled, template)

    def caller(self, name: str) -> Caller:
        return next(caller for caller in self.callers if caller.name == name)


def console_pages(app: Any) -> dict[str, Action | None]:
    """GET console path -> the page's action (None: public, e.g. the login page)."""
    pages: dict[str, Action | None] = {}
    for context in iter_route_contexts(app.routes):
        route = context.route
        path = context.path_format
        if isinstance(route, APIRoute) and "GET" in route.methods and path.startswith("/console"):
            found = declarations(route.dependant)
            pages[path] = getattr(found[0], "policy_action", None) if found else None
    return pages


async def _settlement_batch(session: Any, merchant_id: str, now: datetime) -> str:
    """A settled day of the canteen (the settlement pages' sample)."""
    from datetime import date

    from tongka.ids import new_id
    from tongka.settlement.models import SettlementBatch

    batch_id = new_id("stb")
    session.add(
        SettlementBatch(
            id=batch_id,
            merchant_id=merchant_id,
            currency="CNY",
            business_date=date(2026, 10, 9),
            contract_id=None,
            cutoff_at=now,
            movements=0,
            carried_in=0,
            reserve_held=0,
            reserve_released=0,
            net=0,
            line_count=0,
            payout_date=date(2026, 10, 12),
            payout_status="carried",
            carry_reason="zero",
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    return batch_id


async def _demo_order(
    database: Database,
    settings: Settings,
    now: datetime,
    merchant_id: str,
    card_id: str,
    store_id: str,
) -> str:
    """A cash top-up of ¥100 at the till, refunded in full: the order pages get an order with
    its history, a refund and two receipts, and the demo's figures stay as they were."""
    from tongka.payments import registry
    from tongka.payments.adapters.cash import Cash
    from tongka.payments.channel import ChannelName, PaymentMethod
    from tongka.sales.order_refunds import refund_order
    from tongka.sales.order_states import OrderKind
    from tongka.sales.orders import OrderRequest, create_order

    with registry.override_channels({ChannelName.CASH: Cash()}):
        async with database.transaction() as session:
            created = await create_order(
                session,
                OrderRequest(
                    kind=OrderKind.TOP_UP,
                    method=PaymentMethod.CASH,
                    channel="cash",
                    actor="test",
                    buyer_key="till:demo",
                    merchant_id=merchant_id,
                    store_id=store_id,
                    card_id=card_id,
                    amount_minor=10_000,
                ),
                now=now,
                settings=settings,
            )
            await refund_order(
                session,
                created.order.id,
                refund_id="demo-refund",
                amount_minor=None,
                reason="演示退款",
                actor="test",
                now=now,
                settings=settings,
            )
    return created.order.id


async def build_world(database: Database, settings: Settings, now: datetime) -> ConsoleWorld:
    credentials = json.loads((await load_demo_data(database, settings, now)).read_text())
    canteen = credentials["merchants"][0]
    logins = [
        ("platform admin", credentials["platform_admin"]["email"], credentials["platform_admin"]),
        ("merchant admin", canteen["admin"]["email"], canteen["admin"]),
        ("cashier", canteen["cashier"]["email"], canteen["cashier"]),
    ]
    async with database.transaction() as session:
        for role in ("finance", "risk", "support"):
            email = unique_email(role)
            await identity.create_user(
                session,
                email=email,
                display_name=f"平台{role}",
                role=role,
                password=TEST_PASSWORD,
                actor="test",
                now=now,
            )
            logins.append((f"platform {role}", email, {"password": TEST_PASSWORD}))
        endpoint = await webhooks.create_endpoint(
            session,
            merchant_id=canteen["id"],
            url="https://canteen.example/tongka/webhooks/receive-all-events",
            enabled_events=["*"],
            description="演示回调",
            actor="test",
            settings=settings,
            now=now,
        )
        cashier = await session.scalar(
            select(User).where(User.email == canteen["cashier"]["email"])
        )
        api_key = await identity.find_api_key(session, TEST_KEYS, canteen["api_key"])
        batch = await cards.create_batch(
            session,
            credentials["cards"]["62880101"]["product_id"],
            merchant_id=canteen["id"],
            count=3,
            face_value=10_000,
            export_password="demo-export-password-0001",
            actor="test",
            now=now,
            reference="演示批次",
        )
        settlement_batch_id = await _settlement_batch(session, canteen["id"], now)
        promotion_id = await _promotion(
            session, canteen["id"], credentials["cards"]["62880101"]["product_id"], now
        )
        tokens = []
        for name, email, login in logins:
            result = await identity.login(
                session, TEST_KEYS, email=email, password=login["password"], now=now
            )
            assert result.session_token is not None, name
            tokens.append((name, result.session_token))
        consumer = await identity.find_consumer_by_phone(session, credentials["consumer"]["phone"])
        assert consumer is not None
        _, consumer_token = await identity.open_consumer_session(
            session, TEST_KEYS, consumer, now=now
        )
        tokens.append(("consumer", consumer_token))
        callers = []
        for name, token in tokens:
            signed_in = await identity.resolve_session(session, TEST_KEYS, token, now=now)
            assert signed_in is not None, name
            callers.append(Caller(name, token, signed_in.principal))
    issued = credentials["cards"]
    canteen_card = issued["62880101"]["cards"][0]
    receipt = await issued_receipt(  # the public receipt page's {code}
        database, settings, now, sample_facts(merchant_id=canteen["id"])
    )
    # on the demo holder's card: the holder and the canteen's staff both see the order
    order_id = await _demo_order(
        database,
        settings,
        now,
        canteen["id"],
        issued["62880103"]["cards"][0]["card_id"],
        canteen["store_id"],
    )
    reconciliation = await seeded_run(database, date(2026, 11, 20))  # the 对账 pages' ids
    return_id = await _demo_return(
        database,
        settings,
        now,
        issued["62880103"]["product_id"],
        credentials["consumer"]["id"],
        canteen["store_id"],
    )
    return ConsoleWorld(
        credentials=credentials,
        callers=callers,
        ids={
            "merchant_id": canteen["id"],
            "card_id": canteen_card["card_id"],
            "endpoint_id": endpoint.endpoint.id,
            "store_id": canteen["store_id"],
            "terminal_id": canteen["terminal_id"],
            "product_id": issued["62880101"]["product_id"],
            "user_id": cashier.id,
            "key_id": api_key.id,
            "api_key_id": api_key.id,
            "batch_id": batch.id,
            "settlement_batch_id": settlement_batch_id,
            "code": receipt.code,
            "order_id": order_id,
            "promotion_id": promotion_id,
            "reconciliation_id": reconciliation[0],
            "reconciliation_exception_id": reconciliation[1],
            "reconciliation_resolution_id": reconciliation[2],
            "return_id": return_id,
        },
        consumer_card_id=issued["62880103"]["cards"][0]["card_id"],
        other_card_id=canteen_card["card_id"],
    )


async def _demo_return(
    database: Database,
    settings: Settings,
    now: datetime,
    product_id: str,
    holder_id: str,
    store_id: str,
) -> str:
    """A second named card of the demo holder, ¥50, returned in cash at the canteen's till
    (退卡): the card-return pages get a return every reader of it may open."""
    async with database.transaction() as session:
        product = await cards.get_product(session, product_id)
        issued = await funded_card(session, now, product, amount=5_000, holder_id=holder_id)
        row = await start_return(
            session,
            ReturnRequest(
                card_id=issued.card.id,
                method=ReturnMethod.CASH,
                actor="test",
                merchant_id=product.merchant_id,
                store_id=store_id,
            ),
            return_id="ret_demo0000000000000000001",
            now=now,
            settings=settings,
        )
        return row.id


async def _promotion(session: Any, merchant_id: str, product_id: str, now: datetime) -> str:
    """A running promotion of the canteen (充值500送50), funded from its account, with one
    bonus claimed (its page lists it)."""
    await fund_merchant(session, now, 100_000, merchant_id)
    promotion = await promotions.create_promotion(
        session, merchant_id, promotion_spec(now), actor="test", now=now
    )
    await promotions.claim_bonus(
        session,
        merchant_id=merchant_id,
        product_id=product_id,
        holder_id=None,
        load_minor=50_000,
        currency="CNY",
        order_id="ord_demo_bonus",
        now=now,
    )
    return promotion.id
