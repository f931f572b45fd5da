"""The card API through HTTP: tenant walls, one-time display, masking, inquiry limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import Request
from sqlalchemy import update

from tests.cards_support import (
    KEYS,
    MERCHANT,
    OTHER_MERCHANT,
    cny,
    count,
    event_types,
    grant_quota,
    reserve_account,
)
from tongka.api.app import create_app
from tongka.cards import service
from tongka.cards.models import Card
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import authenticate
from tongka.errors import AuthenticationFailed
from tongka.identity.principal import Principal, PrincipalKind

PRINCIPALS = {
    "alpha": Principal(
        kind=PrincipalKind.MERCHANT,
        actor="user:alpha",
        roles=frozenset({"merchant_admin"}),
        merchant_id=MERCHANT,
    ),
    "beta": Principal(
        kind=PrincipalKind.MERCHANT,
        actor="user:beta",
        roles=frozenset({"merchant_admin"}),
        merchant_id=OTHER_MERCHANT,
    ),
    "holder": Principal(
        kind=PrincipalKind.CONSUMER,
        actor="consumer:con_holder",
        roles=frozenset(),
        consumer_id="con_holder",
    ),
    "platform": Principal(
        kind=PrincipalKind.PLATFORM, actor="user:ops", roles=frozenset({"admin"})
    ),
}
PRODUCT = {
    "name": "Gift card",
    "bin_prefix": "628801",
    "number_length": 16,
    "max_balance": cny(100_000),
    "is_named": False,
    "face_values": [cny(10_000), cny(50_000)],
    "validity_months": 36,
}


async def _test_principal(request: Request) -> Principal:
    """Stands in for the identity part: the caller is named by a test header."""
    name = request.headers.get("X-Test-Caller")
    if name not in PRINCIPALS:
        raise AuthenticationFailed("Missing or invalid credentials.")
    return PRINCIPALS[name]


@pytest.fixture
async def client(
    database: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    # the API-wide per-address limit (conventions) is lifted so the card's own limits show
    relaxed = settings.model_copy(update={"rate_limit_per_ip": "10000/second"})
    app = create_app(relaxed, database=database, clock=clock)
    app.dependency_overrides[authenticate] = _test_principal
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def call(
    client: httpx.AsyncClient, method: str, path: str, caller: str | None, **kwargs: Any
) -> httpx.Response:
    headers = {"X-Test-Caller": caller} if caller else {}
    if method == "POST":
        kwargs.setdefault("json", {})
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return await client.request(method, path, headers=headers, **kwargs)


async def active_product(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    created = await call(client, "POST", "/v1/card_products", "alpha", json=PRODUCT | overrides)
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]
    assert (
        await call(client, "POST", f"/v1/card_products/{product_id}/submit", "alpha")
    ).status_code == 200
    approved = await call(client, "POST", f"/v1/card_products/{product_id}/approve", "platform")
    assert approved.status_code == 200, approved.text
    return approved.json()


async def issued_card(client: httpx.AsyncClient) -> dict[str, Any]:
    product = await active_product(client)
    issued = await call(
        client,
        "POST",
        "/v1/cards",
        "alpha",
        json={"product_id": product["id"], "face_value": cny(10_000)},
    )
    assert issued.status_code == 201, issued.text
    return issued.json()


async def started_batch(client: httpx.AsyncClient, *, count: int) -> httpx.Response:
    """Merchant alpha starts a batch of ``count`` cards of a new active product."""
    product = await active_product(client)
    body = {
        "product_id": product["id"],
        "count": count,
        "face_value": cny(10_000),
        "export_password": "a long export password",
    }
    return await call(client, "POST", "/v1/card_batches", "alpha", json=body)


async def test_a_product_goes_through_review(client: httpx.AsyncClient) -> None:
    product = await active_product(client)
    assert product["status"] == "active"
    assert product["capacity"] == 10**9
    listed = await call(client, "GET", "/v1/card_products", "alpha")
    assert [item["id"] for item in listed.json()["data"]] == [product["id"]]


async def test_a_merchant_cannot_approve_its_own_product(client: httpx.AsyncClient) -> None:
    created = await call(client, "POST", "/v1/card_products", "alpha", json=PRODUCT)
    product_id = created.json()["id"]
    await call(client, "POST", f"/v1/card_products/{product_id}/submit", "alpha")
    refused = await call(client, "POST", f"/v1/card_products/{product_id}/approve", "alpha")
    assert refused.status_code == 403


async def test_the_regulation_refusal_cites_the_rule(client: httpx.AsyncClient) -> None:
    refused = await call(
        client, "POST", "/v1/card_products", "alpha", json=PRODUCT | {"max_balance": cny(200_000)}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "regulation_violation"
    assert "第二十一条" in refused.json()["error"]["message"]


async def test_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    refused = await call(
        client, "POST", "/v1/card_products", "alpha", json=PRODUCT | {"colour": "red"}
    )
    assert refused.status_code == 422


async def test_number_and_secret_are_shown_once_then_masked(
    client: httpx.AsyncClient, database: Database
) -> None:
    card = await issued_card(client)
    number, secret = card["number"], card["secret"]
    assert card["masked_number"] == f"{number[:4]} **** **** {number[-4:]}"
    shown = await call(client, "GET", f"/v1/cards/{card['id']}", "alpha")
    assert shown.status_code == 200
    assert number not in shown.text
    assert secret not in shown.text
    assert shown.json()["masked_number"] == card["masked_number"]
    listed = await call(client, "GET", "/v1/cards", "alpha", params={"last4": number[-4:]})
    assert [item["id"] for item in listed.json()["data"]] == [card["id"]]
    assert number not in listed.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/card_products/{product}"),
        ("POST", "/v1/card_products/{product}/submit"),
        ("GET", "/v1/cards/{card}"),
        ("GET", "/v1/cards/{card}/transactions"),
        ("POST", "/v1/cards/{card}/freeze"),
        ("POST", "/v1/cards/{card}/unfreeze"),
        ("POST", "/v1/cards/{card}/report_lost"),
        ("POST", "/v1/cards/{card}/reissue"),
        ("POST", "/v1/cards/{card}/close"),
        ("POST", "/v1/cards/{card}/activate"),
    ],
)
async def test_another_merchant_gets_not_found_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, method: str, path: str
) -> None:
    card = await issued_card(client)
    before = await event_types(database)
    answer = await call(
        client, method, path.format(product=card["product_id"], card=card["id"]), "beta"
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"
    assert await event_types(database) == before


async def test_another_merchant_sees_none_of_the_lists(client: httpx.AsyncClient) -> None:
    await issued_card(client)
    for path in ("/v1/card_products", "/v1/cards", "/v1/card_batches"):
        answer = await call(client, "GET", path, "beta")
        assert answer.json()["data"] == [], path


async def test_another_merchant_cannot_issue_on_a_product(client: httpx.AsyncClient) -> None:
    product = await active_product(client)
    refused = await call(
        client,
        "POST",
        "/v1/cards",
        "beta",
        json={"product_id": product["id"], "face_value": cny(10_000)},
    )
    assert refused.status_code == 404


async def test_without_credentials_nothing_is_served(client: httpx.AsyncClient) -> None:
    assert (await call(client, "GET", "/v1/cards", None)).status_code == 401


async def test_a_batch_is_hidden_from_another_merchant(client: httpx.AsyncClient) -> None:
    created = await started_batch(client, count=3)
    assert created.status_code == 202, created.text
    batch_id = created.json()["id"]
    assert (await call(client, "GET", f"/v1/card_batches/{batch_id}", "beta")).status_code == 404
    assert (
        await call(client, "POST", f"/v1/card_batches/{batch_id}/export", "beta")
    ).status_code == 404


async def test_the_balance_inquiry_answers_with_number_and_secret(
    client: httpx.AsyncClient,
) -> None:
    card = await issued_card(client)
    answer = await call(
        client,
        "POST",
        "/v1/balance_inquiries",
        None,
        json={"number": card["number"], "secret": card["secret"]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["balance"]["total"] == cny(0)
    assert answer.json()["masked_number"] == card["masked_number"]


async def test_five_wrong_secrets_lock_the_card_and_tell_the_holder(
    client: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    card = await issued_card(client)
    unknown = await call(
        client,
        "POST",
        "/v1/balance_inquiries",
        None,
        json={"number": "6288010000000000", "secret": "1234567890"},
    )
    for _ in range(5):
        wrong = await call(
            client,
            "POST",
            "/v1/balance_inquiries",
            None,
            json={"number": card["number"], "secret": "0000000000"},
        )
        # an unknown card and a wrong secret get the same answer
        assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())
    locked = await call(
        client,
        "POST",
        "/v1/balance_inquiries",
        None,
        json={"number": card["number"], "secret": card["secret"]},
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "card_locked"
    assert "card.inquiry_locked" in await event_types(database, card["id"])
    clock.advance(timedelta(minutes=31))
    unlocked = await call(
        client,
        "POST",
        "/v1/balance_inquiries",
        None,
        json={"number": card["number"], "secret": card["secret"]},
    )
    assert unlocked.status_code == 200
    assert await count(database, Card) == 1


async def test_one_address_is_limited_across_cards(client: httpx.AsyncClient) -> None:
    answers = [
        (
            await call(
                client,
                "POST",
                "/v1/balance_inquiries",
                None,
                json={"number": f"628801000000{index:04d}", "secret": "1234567890"},
            )
        ).status_code
        for index in range(31)
    ]
    assert answers[:30] == [400] * 30
    assert answers[30] == 429


async def test_a_cards_transactions_and_balance_come_from_the_ledger(
    client: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    card = await issued_card(client)
    async with database.transaction() as session:
        await grant_quota(session, clock.now(), 10**9)
        funding = service.CardFunding(
            transfer_id="sale:1",
            debit_account_id=await reserve_account(session, clock.now()),
            amount=10_000,
        )
        await service.activate_card(
            session, card["id"], actor="t", now=clock.now(), funding=funding
        )
    shown = await call(client, "GET", f"/v1/cards/{card['id']}", "alpha")
    assert shown.json()["balance"] == {
        "paid": cny(10_000),
        "bonus": cny(0),
        "total": cny(10_000),
        "currency": "CNY",
    }
    history = await call(client, "GET", f"/v1/cards/{card['id']}/transactions", "alpha")
    assert [(item["amount"], item["code"]) for item in history.json()["data"]] == [
        (cny(10_000), "card_load")
    ]


async def test_only_platform_finance_activates_a_batch(
    client: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    created = await started_batch(client, count=2)
    batch_id = created.json()["id"]
    await service.run_batch(database, batch_id, keys=KEYS, now=clock.now())
    async with database.transaction() as session:
        await grant_quota(session, clock.now(), 10**9)
    body = {"transfer_reference": "BANK-7", "amount": cny(20_000)}
    refused = await call(
        client, "POST", f"/v1/card_batches/{batch_id}/activate", "alpha", json=body
    )
    assert refused.status_code == 403
    activated = await call(
        client, "POST", f"/v1/card_batches/{batch_id}/activate", "platform", json=body
    )
    assert activated.status_code == 200, activated.text
    assert activated.json()["funding_reference"] == "BANK-7"
    listed = await call(client, "GET", "/v1/cards", "alpha", params={"batch_id": batch_id})
    assert [item["balance"]["total"] for item in listed.json()["data"]] == [cny(10_000)] * 2


async def test_a_merchant_cannot_name_a_holder_when_issuing(client: httpx.AsyncClient) -> None:
    """Binding a card to a consumer by id is gone: holders are bound by their consent."""
    product = await active_product(client)
    body = {"product_id": product["id"], "face_value": cny(10_000), "holder_id": "con_holder"}
    refused = await call(client, "POST", "/v1/cards", "alpha", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["param"] == "holder_id"


async def _held_by(database: Database, card: dict[str, Any], holder_id: str) -> None:
    """The system binds the card (as a sale will), straight in the table."""
    async with database.transaction() as session:
        await session.execute(update(Card).where(Card.id == card["id"]).values(holder_id=holder_id))


async def test_a_signed_in_holder_sees_only_their_own_cards(
    client: httpx.AsyncClient, database: Database
) -> None:
    product = await active_product(client)
    body = {"product_id": product["id"], "face_value": cny(10_000)}
    mine = (await call(client, "POST", "/v1/cards", "alpha", json=body)).json()
    others = (await call(client, "POST", "/v1/cards", "alpha", json=body)).json()
    await _held_by(database, mine, "con_holder")
    await _held_by(database, others, "con_other")
    mine_id, others_id = mine["id"], others["id"]
    listed = await call(client, "GET", "/v1/cards", "holder")
    assert [item["id"] for item in listed.json()["data"]] == [mine_id]
    assert (await call(client, "GET", f"/v1/cards/{mine_id}", "holder")).status_code == 200
    assert (await call(client, "GET", f"/v1/cards/{others_id}", "holder")).status_code == 404
    frozen = await call(client, "POST", f"/v1/cards/{mine_id}/report_lost", "holder")
    assert frozen.status_code == 422  # an issued (unsold) card cannot be reported lost


async def test_the_platform_sets_the_regulation_and_merchants_only_read_it(
    client: httpx.AsyncClient,
) -> None:
    shown = await call(client, "GET", "/v1/card_regulation", "alpha")
    assert shown.json()["anonymous_max_balance"] == 100_000
    relaxed = {**shown.json(), "anonymous_max_balance": 200_000}
    relaxed.pop("object")
    assert (
        await call(client, "POST", "/v1/card_regulation", "alpha", json=relaxed)
    ).status_code == 403
    changed = await call(client, "POST", "/v1/card_regulation", "platform", json=relaxed)
    assert changed.json()["anonymous_max_balance"] == 200_000
    created = await call(
        client, "POST", "/v1/card_products", "alpha", json=PRODUCT | {"max_balance": cny(200_000)}
    )
    assert created.status_code == 201


async def test_a_retried_issue_returns_the_same_card_once(client: httpx.AsyncClient) -> None:
    product = await active_product(client)
    body = {"product_id": product["id"], "face_value": cny(10_000)}
    headers = {"X-Test-Caller": "alpha", "Idempotency-Key": "issue-once"}
    first = await client.post("/v1/cards", json=body, headers=headers)
    again = await client.post("/v1/cards", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = await call(client, "GET", "/v1/cards", "alpha")
    assert len(listed.json()["data"]) == 1


async def _held_active_card(
    client: httpx.AsyncClient, database: Database, product_id: str | None = None
) -> str:
    product_id = product_id or (await active_product(client))["id"]
    issued = await call(
        client,
        "POST",
        "/v1/cards",
        "alpha",
        json={"product_id": product_id, "face_value": cny(10_000)},
    )
    await _held_by(database, issued.json(), "con_holder")
    card_id = issued.json()["id"]
    activated = await call(client, "POST", f"/v1/cards/{card_id}/activate", "alpha")
    assert activated.status_code == 200, activated.text
    return str(card_id)


async def test_a_holder_cannot_lift_the_issuers_freeze_through_the_api(
    client: httpx.AsyncClient, database: Database
) -> None:
    card_id = await _held_active_card(client, database)
    frozen = await call(
        client, "POST", f"/v1/cards/{card_id}/freeze", "alpha", json={"reason": "fraud check"}
    )
    assert (frozen.json()["frozen_by"], frozen.json()["frozen_reason"]) == ("issuer", "fraud check")
    refused = await call(client, "POST", f"/v1/cards/{card_id}/unfreeze", "holder")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "card_freeze_held_by_other_side"
    assert "issuer" in refused.json()["error"]["message"]
    shown = await call(client, "GET", f"/v1/cards/{card_id}", "holder")
    assert (shown.json()["status"], shown.json()["frozen_by"]) == ("frozen", "issuer")
    lifted = await call(client, "POST", f"/v1/cards/{card_id}/unfreeze", "alpha")
    assert (lifted.json()["status"], lifted.json()["frozen_by"]) == ("active", None)


@pytest.mark.parametrize("repeat", ["source", "target"])
async def test_a_merge_naming_a_card_twice_is_a_validation_error(
    client: httpx.AsyncClient, database: Database, repeat: str
) -> None:
    product = await active_product(client)
    target = await _held_active_card(client, database, product["id"])
    source = await _held_active_card(client, database, product["id"])
    sources = [source, source] if repeat == "source" else [source, target]
    before = await event_types(database)
    answer = await call(
        client, "POST", f"/v1/cards/{target}/merge", "alpha", json={"source_card_ids": sources}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("card_merge_invalid_sources", "source_card_ids")
    assert await event_types(database) == before


async def test_only_platform_finance_funds_an_issued_card_with_its_face_value(
    client: httpx.AsyncClient, database: Database, clock: FixedClock
) -> None:
    card = await issued_card(client)
    async with database.transaction() as session:
        await grant_quota(session, clock.now(), 10**9)
    path = f"/v1/cards/{card['id']}/fund"
    body = {"transfer_reference": "BANK-9", "amount": cny(10_000)}
    assert (await call(client, "POST", path, "alpha", json=body)).status_code == 403
    wrong = await call(client, "POST", path, "platform", json=body | {"amount": cny(9_000)})
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["error"]["param"] == "amount"
    funded = await call(client, "POST", path, "platform", json=body)
    assert funded.status_code == 200, funded.text
    assert (funded.json()["status"], funded.json()["balance"]["total"]) == ("active", cny(10_000))
    again = await call(client, "POST", path, "platform", json=body)
    assert again.status_code == 422
