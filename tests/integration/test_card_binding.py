"""A card is bound to its holder only with the holder's consent, through HTTP.

Issue #9, Low 10: a merchant could bind a card to any consumer by id, and learn whether
the consumer exists and their KYC level. Now it asks to bind a card to a phone; the answer
is the same for any phone; the holder, signed in, confirms the texted code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.cards_support import KEYS, active_product, cny, event_types
from tests.factories import (
    MerchantWithKey,
    api_client,
    make_consumer_with_token,
    make_merchant_with_key,
    read_sandbox_code,
    unique_phone,
)
from tongka.api.app import create_app
from tongka.cards import binding, service
from tongka.cards.models import Card, CardHolderBinding
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.identity.models import KycLevel, SandboxSmsMessage


@dataclass
class Issuer:
    app: FastAPI
    merchant: MerchantWithKey
    client: httpx.AsyncClient
    database: Database
    clock: FixedClock

    async def card(self, *, is_named: bool = False) -> str:
        """A new issued card of a new product of this merchant."""
        named = {"is_named": True, "max_balance": 500_000, "validity_months": None}
        async with self.database.transaction() as session:
            product = await active_product(
                session, self.clock.now(), self.merchant.merchant_id, **(named if is_named else {})
            )
        issued = await self.client.post(
            "/v1/cards", json={"product_id": product.id, "face_value": cny(10_000)}
        )
        assert issued.status_code == 201, issued.text
        card_id: str = issued.json()["id"]
        return card_id

    async def ask(self, card_id: str, phone: str) -> httpx.Response:
        return await self.client.post(f"/v1/cards/{card_id}/holder_bindings", json={"phone": phone})


@pytest.fixture
async def issuer(
    settings: Settings, database: Database, clock: FixedClock
) -> AsyncIterator[Issuer]:
    app = create_app(settings, database=database, clock=clock)
    merchant = await make_merchant_with_key(database, legal_name="发卡商户")
    async with api_client(app, merchant.api_key) as client:
        yield Issuer(app, merchant, client, database, clock)


async def confirm(issuer: Issuer, token: str, code: str) -> httpx.Response:
    async with api_client(issuer.app, token) as holder:
        return await holder.post("/v1/holder_bindings/confirm", json={"code": code})


async def holder_of(database: Database, card_id: str) -> str | None:
    async with database.transaction() as session:
        return await session.scalar(select(Card.holder_id).where(Card.id == card_id))


def _shape(response: httpx.Response) -> dict[str, Any]:
    """The answer without what differs by request anyway (ids, the masked number)."""
    body: dict[str, Any] = response.json()
    return {key: value for key, value in body.items() if key not in ("id", "card_id", "phone")}


async def test_the_answer_is_the_same_whether_or_not_a_consumer_has_the_phone(
    issuer: Issuer,
) -> None:
    known = await make_consumer_with_token(issuer.database, kyc_level=KycLevel.ID_CARD)
    stranger = unique_phone()
    to_known = await issuer.ask(await issuer.card(), known.phone)
    to_stranger = await issuer.ask(await issuer.card(), stranger)
    assert to_known.status_code == to_stranger.status_code == 201, to_known.text
    assert _shape(to_known) == _shape(to_stranger)
    assert _shape(to_known)["holder_id"] is None
    assert to_known.json()["phone"] == f"{known.phone[:3]}****{known.phone[-4:]}"
    # both got a text; neither the answer nor the issuer's events name the consumer
    assert len(await read_sandbox_code(issuer.database, known.phone)) == 6
    assert len(await read_sandbox_code(issuer.database, stranger)) == 6
    events = (await issuer.client.get("/v1/events", params={"limit": 50})).json()["data"]
    requested = [event for event in events if event["type"] == "card.holder_binding_requested"]
    assert len(requested) == 2
    assert known.consumer_id not in str(events)


async def test_the_card_is_bound_only_when_the_holder_confirms_the_code(issuer: Issuer) -> None:
    holder = await make_consumer_with_token(issuer.database)
    card_id = await issuer.card(is_named=True)
    asked = await issuer.ask(card_id, holder.phone)
    assert asked.json()["status"] == "pending"
    assert await holder_of(issuer.database, card_id) is None  # asking binds nothing
    # when
    confirmed = await confirm(
        issuer, holder.token, await read_sandbox_code(issuer.database, holder.phone)
    )
    # then
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["holder_id"] == holder.consumer_id
    assert await holder_of(issuer.database, card_id) == holder.consumer_id
    assert "card.holder_bound" in await event_types(issuer.database, card_id)
    used_again = await confirm(
        issuer, holder.token, await read_sandbox_code(issuer.database, holder.phone)
    )
    assert used_again.status_code == 422


async def test_a_phone_without_an_account_signs_in_and_then_confirms(issuer: Issuer) -> None:
    phone = unique_phone()
    card_id = await issuer.card()
    await issuer.ask(card_id, phone)
    code = await read_sandbox_code(issuer.database, phone)
    newcomer = await make_consumer_with_token(issuer.database, phone=phone)  # first sign-in
    assert (await confirm(issuer, newcomer.token, code)).status_code == 200
    assert await holder_of(issuer.database, card_id) == newcomer.consumer_id


async def test_someone_else_cannot_use_the_code(issuer: Issuer) -> None:
    holder = await make_consumer_with_token(issuer.database)
    intruder = await make_consumer_with_token(issuer.database)
    card_id = await issuer.card()
    await issuer.ask(card_id, holder.phone)
    code = await read_sandbox_code(issuer.database, holder.phone)
    refused = await confirm(issuer, intruder.token, code)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == binding.CODE_INVALID
    assert await holder_of(issuer.database, card_id) is None


async def test_wrong_codes_are_counted_and_lock_the_binding(issuer: Issuer) -> None:
    holder = await make_consumer_with_token(issuer.database)
    card_id = await issuer.card()
    await issuer.ask(card_id, holder.phone)
    code = await read_sandbox_code(issuer.database, holder.phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answers = [
        (await confirm(issuer, holder.token, wrong)).json()["error"]["code"]
        for _ in range(binding.MAX_BINDING_ATTEMPTS)
    ]
    assert answers == [binding.CODE_INVALID] * (binding.MAX_BINDING_ATTEMPTS - 1) + [
        binding.CODE_LOCKED
    ]
    late = await confirm(issuer, holder.token, code)
    assert late.json()["error"]["code"] == binding.CODE_LOCKED
    assert await holder_of(issuer.database, card_id) is None


async def test_a_code_expires_after_ten_minutes(issuer: Issuer) -> None:
    holder = await make_consumer_with_token(issuer.database, now=issuer.clock.now())
    card_id = await issuer.card()
    await issuer.ask(card_id, holder.phone)
    code = await read_sandbox_code(issuer.database, holder.phone)
    issuer.clock.advance(binding.BINDING_CODE_LIFETIME + timedelta(seconds=1))
    expired = await confirm(issuer, holder.token, code)
    assert expired.json()["error"]["code"] == binding.CODE_EXPIRED
    assert await holder_of(issuer.database, card_id) is None


async def test_a_named_card_still_needs_a_verified_holder_at_confirmation(
    issuer: Issuer,
) -> None:
    unverified = await make_consumer_with_token(issuer.database, kyc_level=KycLevel.NONE)
    card_id = await issuer.card(is_named=True)
    await issuer.ask(card_id, unverified.phone)
    code = await read_sandbox_code(issuer.database, unverified.phone)
    refused = await confirm(issuer, unverified.token, code)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "card_holder_not_verified"
    assert await holder_of(issuer.database, card_id) is None


async def test_a_bound_card_and_a_second_request_at_once_are_refused(issuer: Issuer) -> None:
    holder = await make_consumer_with_token(issuer.database)
    card_id = await issuer.card()
    await issuer.ask(card_id, holder.phone)
    too_soon = await issuer.ask(card_id, unique_phone())
    assert too_soon.status_code == 429
    assert too_soon.json()["error"]["code"] == "holder_binding_rate_limited"
    await confirm(issuer, holder.token, await read_sandbox_code(issuer.database, holder.phone))
    issuer.clock.advance(binding.RESEND_INTERVAL)
    bound = await issuer.ask(card_id, unique_phone())
    assert bound.status_code == 409
    assert bound.json()["error"]["code"] == "card_holder_already_bound"


async def test_only_consumers_confirm_and_only_the_issuer_asks(issuer: Issuer) -> None:
    card_id = await issuer.card()
    by_merchant = await issuer.client.post("/v1/holder_bindings/confirm", json={"code": "1"})
    assert by_merchant.status_code == 403
    other = await make_merchant_with_key(issuer.database, legal_name="别家商户")
    async with api_client(issuer.app, other.api_key) as client:
        foreign = await client.post(
            f"/v1/cards/{card_id}/holder_bindings", json={"phone": unique_phone()}
        )
    assert foreign.status_code == 404
    async with issuer.database.transaction() as session:
        rows = await session.scalar(select(func.count()).select_from(CardHolderBinding))
        texts = await session.scalar(select(func.count()).select_from(SandboxSmsMessage))
    assert (rows, texts) == (0, 0)


async def test_the_system_still_binds_directly(issuer: Issuer) -> None:
    """Demo data (and the coming sale) bind as the system, through the service."""
    holder = await make_consumer_with_token(issuer.database)
    async with issuer.database.transaction() as session:
        product = await active_product(session, issuer.clock.now(), issuer.merchant.merchant_id)
        issued = await service.issue_card(
            session,
            product.id,
            merchant_id=None,
            face_value=10_000,
            holder_id=holder.consumer_id,
            keys=KEYS,
            actor="system",
            now=issuer.clock.now(),
        )
    assert await holder_of(issuer.database, issued.card.id) == holder.consumer_id
