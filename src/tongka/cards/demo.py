"""Demo data for cards: a product for each demo merchant and a few active, funded cards.

Idempotent: products are found by their fixed BINs, cards by their product. The numbers
and secrets go into ``demo.json``. Demo secrets (only theirs) are derived from the
platform key and the card id, so a run after ``demo.json`` was deleted writes the same
working credentials: the numbers are read back by decrypting them.
"""

from __future__ import annotations

import hmac
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
# (BIN, product name, card loads as (paid, bonus))
DEMO_PRODUCTS = [
    ("62880101", "示范餐饮储值卡 Canteen gift card", [(50_000, 5_000), (20_000, 0)]),
    ("62880202", "示范书店购书卡 Bookshop card", [(30_000, 0), (10_000, 1_000)]),
]


async def _product(
    session: AsyncSession, merchant_id: str, bin_prefix: str, name: str, now: datetime
) -> CardProduct:
    existing = await session.scalar(select(CardProduct).where(CardProduct.bin_prefix == bin_prefix))
    if existing is not None:
        return existing
    spec = service.ProductSpec(
        name=name,
        currency="CNY",
        bin_prefix=bin_prefix,
        number_length=16,
        max_balance=100_000,
        is_named=False,
        face_values=[10_000, 20_000, 30_000, 50_000],
        validity_months=36,
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
    shown: dict[str, object] = {}
    for merchant_id, (bin_prefix, name, loads) in zip(merchant_ids, DEMO_PRODUCTS, strict=False):
        product = await _product(session, merchant_id, bin_prefix, name, now)
        await service.set_quota(session, merchant_id, "CNY", 10_000_000, actor=ACTOR, now=now)
        cards = list(
            (
                await session.execute(
                    select(Card).where(Card.product_id == product.id).order_by(Card.id)
                )
            ).scalars()
        )
        if not cards:
            entries = await _issue_funded(session, context, product, loads, now)
        else:
            entries = await _recover(session, context, cards)
        shown[bin_prefix] = {"merchant_id": merchant_id, "product_id": product.id, "cards": entries}
    context.credentials["cards"] = shown
    context.objects["card_product_ids"] = [entry["product_id"] for entry in shown.values()]  # type: ignore[index]
