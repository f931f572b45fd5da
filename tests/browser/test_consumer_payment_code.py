"""The holder's payment code in a real browser at phone width: the page fetches a code by
itself (HTMX), draws it as a QR code and a barcode, and the width fits the phone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS
from tests.cards_support import MERCHANT, active_product, ensure_merchant, funded_card
from tests.factories import TEST_KEYS
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.identity import service as identity
from tongka.redemption.payment_codes import resolve_payment_code

pytestmark = pytest.mark.browser


def _seed(settings: Settings) -> tuple[str, str]:
    async def seed() -> tuple[str, str]:
        now = datetime.now(UTC)
        database = Database.from_settings(settings)
        try:
            async with database.transaction() as session:
                await ensure_merchant(session, MERCHANT, now)
                consumer = await identity.create_consumer(
                    session, phone="13912345678", actor="t", now=now
                )
                product = await active_product(session, now)
                card = await funded_card(session, now, product, amount=5_000, holder_id=consumer.id)
                _, token = await identity.open_consumer_session(
                    session, TEST_KEYS, consumer, now=now
                )
        finally:
            await database.dispose()
        return token, card.card.id

    return asyncio.run(seed())


async def _card_of(settings: Settings, code: str) -> str:
    database = Database.from_settings(settings)
    try:
        async with database.transaction() as session:
            return await resolve_payment_code(session, code, now=datetime.now(UTC))
    finally:
        await database.dispose()


def test_the_payment_code_appears_by_itself_and_fits_a_phone(
    live_server: str, live_settings: Settings, chromium_path: Path
) -> None:
    token, card_id = _seed(live_settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
        context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": live_server}])
        page = context.new_page()
        try:
            page.goto(f"{live_server}/console/me/cards/{card_id}")
            page.get_by_text("用此卡付款（付款码）").click()
            shown = page.locator("[data-payment-code]")
            expect(shown).to_be_visible()
            expect(page.locator("svg.qr")).to_be_visible()
            expect(page.locator("svg.barcode")).to_be_visible()
            code = shown.get_attribute("data-payment-code") or ""
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        finally:
            browser.close()
    assert len(code) == 18
    assert asyncio.run(_card_of(live_settings, code)) == card_id
