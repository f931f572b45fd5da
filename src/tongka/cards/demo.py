"""Demo data for cards: a product for each demo merchant and a few active, funded cards.

Idempotent: products are found by their fixed BINs, cards by their product. The numbers
and secrets go into ``demo.json``. Demo secrets (only theirs) are derived from the
platform key and the card id, so a run after ``demo.json`` was deleted writes the same
working credentials: the numbers are read back by decrypting them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.cards import accounts, service
from tongka.cards.keys import SECRET_DIGITS, card_keys, derive_key
from tongka.cards.models import Card, CardProduct
from tongka.demo import DemoContext
from tongka.identity.principal import SYSTEM
from tongka.ledger import AccountCode

ACTOR = "demo"
FALLBACK_MERCHANTS = ["mch_demo_canteen", "mch_demo_books"]


@dataclass(frozen=True)
class DemoProduct:
    bin_prefix: str
    name: str
    merchant: int  # index into the identity demo's merchants
    loads: list[tuple[int, int]]  # one card per (paid, bonus)
    is_named: bool = False  # named cards go to the demo card holder


DEMO_PRODUCTS = [
    DemoProduct("62880101", "示范餐饮储值卡 Canteen gift card", 0, [(50_000, 5_000), (20_000, 0)]),
    DemoProduct("62880202", "示范书店购书卡 Bookshop card", 1, [(30_000, 0), (10_000, 1_000)]),
    DemoProduct("62880103", "示范餐饮会员卡 Canteen member card", 0, [(20_000, 2_000)], True),
]


async def _product(
    session: AsyncSession, merchant_id: str, demo: DemoProduct, now: datetime
) -> CardProduct:
    existing = await session.scalar(
        select(CardProduct).where(CardProduct.bin_prefix == demo.bin_prefix)
    )
    if existing is not None:
        return existing
    spec = service.ProductSpec(
        name=demo.name,
        currency="CNY",
        bin_prefix=demo.bin_prefix,
        number_length=16,
        max_balance=500_000 if demo.is_named else 100_000,
        is_named=demo.is_named,
        face_values=[10_000, 20_000, 30_000, 50_000],
        validity_months=None if demo.is_named else 36,  # the regulation: named cards never expire
    )
    product = await service.create_product(session, merchant_id, spec, actor=ACTOR, now=now)
    await service.submit_product(session, product.id, merchant_id=merchant_id, actor=ACTOR, now=now)
    return await service.review_product(
        session, product.id, is_approved=True, note="demo", principal=SYSTEM, now=now
    )


async def _issue_funded(
    session: AsyncSession,
    context: DemoContext,
    product: CardProduct,
    loads: list[tuple[int, int]],
    now: datetime,
    holder_id: str | None,
) -> list[dict[str, object]]:
    keys = card_keys(context.settings)
    reserve = await accounts.system_account(session, AccountCode.RESERVE_BANK, "CNY", now=now)
    budget = await accounts.system_account(session, AccountCode.OPENING_EQUITY, "CNY", now=now)
    shown = []
    for index, (paid, bonus) in enumerate(loads):
        issued = await service.issue_card(
            session,
            product.id,
            merchant_id=product.merchant_id,
            face_value=paid,
            holder_id=holder_id,
            keys=keys,
            actor=ACTOR,
            now=now,
        )
        funding = service.CardFunding(
            transfer_id=f"demo:cards:load:{product.bin_prefix}:{index}",
            debit_account_id=reserve,
            amount=paid,
            bonus=bonus,
            bonus_account_id=budget,
        )
        await service.activate_card(
            session, issued.card.id, actor=ACTOR, now=now, funding=funding, reason="demo"
        )
        secret = _demo_secret(context, issued.card)
        shown.append(_credentials(issued.card, issued.number, secret, paid, bonus))
    await session.flush()
    return shown


def _demo_secret(context: DemoContext, card: Card) -> str:
    """A stable secret for a demo card (replacing the random one it was issued with)."""
    keys = card_keys(context.settings)
    digest = hmac.digest(
        derive_key(context.settings.secret_key_bytes(), "cards.demo.v1"), card.id.encode(), "sha256"
    )
    secret = f"{int.from_bytes(digest[:8], 'big') % 10**SECRET_DIGITS:0{SECRET_DIGITS}d}"
    card.secret_hash = keys.hash_secret(secret, card.id)
    return secret


def _credentials(card: Card, number: str, secret: str, paid: int, bonus: int) -> dict[str, object]:
    return {
        "card_id": card.id,
        "number": number,
        "secret": secret,
        "balance": {"paid": paid, "bonus": bonus, "currency": card.currency},
    }


async def _recover(
    session: AsyncSession, context: DemoContext, cards: list[Card]
) -> list[dict[str, object]]:
    """demo.json was lost: read the numbers back; the secrets are derived again."""
    keys = card_keys(context.settings)
    balances = await service.card_balances(session, cards)
    shown = []
    for card in cards:
        secret = _demo_secret(context, card)
        number = keys.decrypt_number(card.number_ciphertext, card.id)
        balance = balances[card.id]
        shown.append(_credentials(card, number, secret, balance.paid, balance.bonus))
    await session.flush()
    return shown


async def seed(session: AsyncSession, context: DemoContext, now: datetime) -> None:
    merchant_ids = context.objects.get("merchant_ids") or FALLBACK_MERCHANTS
    holder_id = context.credentials.get("consumer", {}).get("id")
    shown: dict[str, object] = {}
    for demo in DEMO_PRODUCTS:
        if demo.is_named and holder_id is None:
            continue  # no demo card holder to give a named card to
        merchant_id = merchant_ids[demo.merchant]
        product = await _product(session, merchant_id, demo, now)
        await service.set_quota(session, merchant_id, "CNY", 10_000_000, actor=ACTOR, now=now)
        statement = select(Card).where(Card.product_id == product.id).order_by(Card.id)
        cards = list((await session.execute(statement)).scalars())
        if cards:
            entries = await _recover(session, context, cards)
        else:
            holder = holder_id if demo.is_named else None
            entries = await _issue_funded(session, context, product, demo.loads, now, holder)
        shown[demo.bin_prefix] = {
            "merchant_id": merchant_id,
            "product_id": product.id,
            "holder_id": holder_id if demo.is_named else None,
            "cards": entries,
        }
    context.credentials["cards"] = shown
