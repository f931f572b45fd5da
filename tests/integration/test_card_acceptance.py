"""Acceptance by another merchant needs its consent (受理协议), through HTTP with real keys.

Issue #9, Medium 6: a product could name another merchant's stores, or the merchant, and
the platform approved it without that merchant knowing. Now the issuer proposes an
agreement, the acceptor approves (or rejects, or revokes), and every step of a product —
creation, submission, approval, issuing, acceptance at the till — checks it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.cards_support import cny, count
from tests.factories import MerchantWithKey, api_client, make_merchant_with_key, make_platform_key
from tongka.api.app import create_app
from tongka.cards import service
from tongka.cards.models import CardAcceptanceAgreement, CardIssuerQuota, CardProduct
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event

_bins = iter(range(10_000, 99_999))


@dataclass
class Parties:
    issuer: MerchantWithKey
    acceptor: MerchantWithKey
    issuer_client: httpx.AsyncClient
    acceptor_client: httpx.AsyncClient
    platform: httpx.AsyncClient
    database: Database


@pytest.fixture
async def parties(
    settings: Settings, database: Database, clock: FixedClock
) -> AsyncIterator[Parties]:
    app: FastAPI = create_app(settings, database=database, clock=clock)
    issuer = await make_merchant_with_key(database, legal_name="发卡商户", with_store=True)
    acceptor = await make_merchant_with_key(database, legal_name="受理商户", with_store=True)
    platform_key = await make_platform_key(database)
    async with (
        api_client(app, issuer.api_key) as issuer_client,
        api_client(app, acceptor.api_key) as acceptor_client,
        api_client(app, platform_key) as platform,
    ):
        yield Parties(issuer, acceptor, issuer_client, acceptor_client, platform, database)


def product_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "联名卡",
        "bin_prefix": f"627{next(_bins)}",
        "number_length": 16,
        "max_balance": cny(100_000),
        "is_named": False,
        "face_values": [cny(10_000)],
        "validity_months": 36,
        **overrides,
    }


def at_merchants(*merchant_ids: str) -> dict[str, Any]:
    return product_body(acceptance="merchants", accepted_merchant_ids=list(merchant_ids))


def at_stores(*store_ids: str | None) -> dict[str, Any]:
    return product_body(acceptance="stores", accepted_store_ids=list(store_ids))


async def agreed(parties: Parties) -> str:
    """The issuer proposes, the acceptor approves: the agreement's id."""
    body = {"acceptor_merchant_id": parties.acceptor.merchant_id, "note": "联名合作"}
    proposed = await parties.issuer_client.post("/v1/acceptance_agreements", json=body)
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["status"] == "proposed"
    agreement_id: str = proposed.json()["id"]
    approved = await parties.acceptor_client.post(
        f"/v1/acceptance_agreements/{agreement_id}/approve", json={}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    return agreement_id


async def submitted(parties: Parties, body: dict[str, Any]) -> str:
    created = await parties.issuer_client.post("/v1/card_products", json=body)
    assert created.status_code == 201, created.text
    product_id: str = created.json()["id"]
    sent = await parties.issuer_client.post(f"/v1/card_products/{product_id}/submit", json={})
    assert sent.status_code == 200, sent.text
    return product_id


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# --- products need the acceptor's consent ------------------------------------------------


async def test_a_product_cannot_name_another_merchant_without_its_consent(
    parties: Parties,
) -> None:
    refused = await parties.issuer_client.post(
        "/v1/card_products", json=at_merchants(parties.acceptor.merchant_id)
    )
    assert refused.status_code == 422, refused.text
    assert error_of(refused)["code"] == "acceptance_not_agreed"
    assert error_of(refused)["param"] == "accepted_merchant_ids"
    assert await count(parties.database, CardProduct) == 0


async def test_another_merchants_store_gets_the_same_answer_as_an_unknown_store(
    parties: Parties,
) -> None:
    """Nothing tells the issuer whether another merchant's store exists."""
    unknown = "sto_00000000000000000000000000"
    foreign = await parties.issuer_client.post(
        "/v1/card_products", json=at_stores(parties.acceptor.store_id)
    )
    missing = await parties.issuer_client.post("/v1/card_products", json=at_stores(unknown))
    assert foreign.status_code == missing.status_code == 422
    assert error_of(foreign)["param"] == error_of(missing)["param"] == "accepted_store_ids"
    assert error_of(foreign)["code"] == error_of(missing)["code"] == "acceptance_not_agreed"
    assert error_of(foreign)["message"].replace(str(parties.acceptor.store_id), "ID") == (
        error_of(missing)["message"].replace(unknown, "ID")
    )
    assert await count(parties.database, CardProduct) == 0


async def test_unknown_merchant_ids_are_refused_naming_the_field(parties: Parties) -> None:
    refused = await parties.issuer_client.post(
        "/v1/card_products", json=at_merchants("mch_00000000000000000000000000")
    )
    assert refused.status_code == 422
    assert error_of(refused)["param"] == "accepted_merchant_ids"


async def test_ids_for_another_kind_of_acceptance_are_refused(parties: Parties) -> None:
    body = product_body(accepted_store_ids=[parties.issuer.store_id])  # issuer_stores
    refused = await parties.issuer_client.post("/v1/card_products", json=body)
    assert refused.status_code == 400
    assert error_of(refused)["param"] == "accepted_store_ids"


async def test_the_issuers_own_stores_need_no_agreement(parties: Parties) -> None:
    product_id = await submitted(parties, at_stores(parties.issuer.store_id))
    approved = await parties.platform.post(f"/v1/card_products/{product_id}/approve", json={})
    assert approved.status_code == 200, approved.text


async def test_with_an_approved_agreement_the_product_is_created_approved_and_accepted(
    parties: Parties,
) -> None:
    await agreed(parties)
    by_merchant = await submitted(parties, at_merchants(parties.acceptor.merchant_id))
    by_store = await submitted(parties, at_stores(parties.acceptor.store_id))
    for product_id in (by_merchant, by_store):
        approved = await parties.platform.post(f"/v1/card_products/{product_id}/approve", json={})
        assert approved.status_code == 200, approved.text
    async with parties.database.transaction() as session:
        product = await service.get_product(session, by_store)
        acceptor, store = parties.acceptor.merchant_id, parties.acceptor.store_id
        assert await service.is_accepted_at(session, product, acceptor, store)
        assert not await service.is_accepted_at(session, product, acceptor, None)
        # a store of the issuer that the product does not list
        issuer, issuer_store = parties.issuer.merchant_id, parties.issuer.store_id
        assert not await service.is_accepted_at(session, product, issuer, issuer_store)
        # a merchant claiming another merchant's store
        assert not await service.is_accepted_at(session, product, issuer, store)


async def test_revoking_stops_approval_issuing_and_acceptance(parties: Parties) -> None:
    agreement_id = await agreed(parties)
    active = await submitted(parties, at_merchants(parties.acceptor.merchant_id))
    assert (
        await parties.platform.post(f"/v1/card_products/{active}/approve", json={})
    ).status_code == 200
    pending = await submitted(parties, at_merchants(parties.acceptor.merchant_id))
    # when
    revoked = await parties.acceptor_client.post(
        f"/v1/acceptance_agreements/{agreement_id}/revoke", json={"note": "合作结束"}
    )
    # then
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    approval = await parties.platform.post(f"/v1/card_products/{pending}/approve", json={})
    assert approval.status_code == 422
    assert error_of(approval)["code"] == "acceptance_not_agreed"
    issue = await parties.issuer_client.post(
        "/v1/cards", json={"product_id": active, "face_value": cny(10_000)}
    )
    assert issue.status_code == 422
    assert error_of(issue)["code"] == "acceptance_not_agreed"
    async with parties.database.transaction() as session:
        product = await service.get_product(session, active)
        acceptor = parties.acceptor.merchant_id
        assert not await service.is_accepted_at(session, product, acceptor, None)
        assert await service.is_accepted_at(session, product, parties.issuer.merchant_id, None)
        revocations = list(
            await session.scalars(
                select(Event).where(Event.type == "card_acceptance_agreement.revoked")
            )
        )
    assert {event.merchant_id for event in revocations} == {
        parties.issuer.merchant_id,
        parties.acceptor.merchant_id,
    }
    assert {tuple(event.data["product_ids"]) for event in revocations} == {(active, pending)}


# --- the agreement flow ------------------------------------------------------------------


async def test_only_the_acceptor_decides_and_both_parties_see_the_agreement(
    parties: Parties,
) -> None:
    body = {"acceptor_merchant_id": parties.acceptor.merchant_id}
    agreement_id = (
        await parties.issuer_client.post("/v1/acceptance_agreements", json=body)
    ).json()["id"]
    by_issuer = await parties.issuer_client.post(
        f"/v1/acceptance_agreements/{agreement_id}/approve", json={}
    )
    assert by_issuer.status_code == 403
    assert error_of(by_issuer)["code"] == "acceptance_agreement_wrong_party"
    for client in (parties.issuer_client, parties.acceptor_client, parties.platform):
        listed = await client.get("/v1/acceptance_agreements", params={"status": "proposed"})
        assert [item["id"] for item in listed.json()["data"]] == [agreement_id]
        assert (await client.get(f"/v1/acceptance_agreements/{agreement_id}")).status_code == 200
    rejected = await parties.acceptor_client.post(
        f"/v1/acceptance_agreements/{agreement_id}/reject", json={"note": "不合作"}
    )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_note"] == "不合作"
    again = await parties.acceptor_client.post(
        f"/v1/acceptance_agreements/{agreement_id}/approve", json={}
    )
    assert again.status_code == 422
    assert error_of(again)["code"] == "illegal_acceptance_agreement_transition"
    refused = await parties.issuer_client.post(
        "/v1/card_products", json=at_merchants(parties.acceptor.merchant_id)
    )
    assert refused.status_code == 422  # a rejected proposal is no consent


async def test_proposals_to_unknown_merchants_twice_or_to_oneself_are_refused(
    parties: Parties,
) -> None:
    unknown = await parties.issuer_client.post(
        "/v1/acceptance_agreements",
        json={"acceptor_merchant_id": "mch_00000000000000000000000000"},
    )
    assert unknown.status_code == 422
    assert error_of(unknown) | {"message": ""} == {
        "type": "unprocessable",
        "code": "unknown_merchant",
        "message": "",
        "param": "acceptor_merchant_id",
    }
    itself = await parties.issuer_client.post(
        "/v1/acceptance_agreements", json={"acceptor_merchant_id": parties.issuer.merchant_id}
    )
    assert itself.status_code == 400
    await agreed(parties)
    twice = await parties.issuer_client.post(
        "/v1/acceptance_agreements", json={"acceptor_merchant_id": parties.acceptor.merchant_id}
    )
    assert twice.status_code == 409
    assert error_of(twice)["code"] == "acceptance_agreement_exists"
    assert await count(parties.database, CardAcceptanceAgreement) == 1


async def test_each_step_is_an_event_for_both_parties(parties: Parties) -> None:
    agreement_id = await agreed(parties)
    for client in (parties.issuer_client, parties.acceptor_client):
        events = (await client.get("/v1/events", params={"limit": 50})).json()["data"]
        mine = [event["type"] for event in events if event["data"].get("acceptor_merchant_id")]
        assert sorted(mine) == [
            "card_acceptance_agreement.approved",
            "card_acceptance_agreement.proposed",
        ], agreement_id


# --- quotas ------------------------------------------------------------------------------


async def test_a_quota_for_a_merchant_that_does_not_exist_is_refused(parties: Parties) -> None:
    body = {"merchant_id": "mch_00000000000000000000000000", "quota": cny(1_000_000)}
    refused = await parties.platform.post("/v1/card_issuer_quotas", json=body)
    assert refused.status_code == 422, refused.text
    assert error_of(refused)["code"] == "unknown_merchant"
    assert error_of(refused)["param"] == "merchant_id"
    assert await count(parties.database, CardIssuerQuota) == 0
    granted = await parties.platform.post(
        "/v1/card_issuer_quotas", json=body | {"merchant_id": parties.issuer.merchant_id}
    )
    assert granted.status_code == 200, granted.text
