"""The settlement API, route × role: who reads contracts, batches (+ lines, statement) and
payouts, who writes contracts; another merchant's ids are 404s."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from fastapi import Request

from tests.receipts_support import pdf_text
from tests.settlement_world import World
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import authenticate
from tongka.errors import AuthenticationFailed
from tongka.identity.principal import Principal, PrincipalKind

MON = date(2026, 9, 28)


def _merchant(merchant_id: str, role: str, store_id: str | None = None) -> Principal:
    return Principal(
        kind=PrincipalKind.MERCHANT,
        actor=f"key:{merchant_id}:{role}",
        roles=frozenset({role}),
        merchant_id=merchant_id,
        store_id=store_id,
    )


def _platform(role: str) -> Principal:
    return Principal(kind=PrincipalKind.PLATFORM, actor=f"key:{role}", roles=frozenset({role}))


@dataclass
class Api:
    client: httpx.AsyncClient
    ids: dict[str, str]

    async def get(self, path: str, caller: str) -> httpx.Response:
        return await self.client.get(path.format(**self.ids), headers={"X-Test-Caller": caller})


@pytest.fixture
async def api(database: Database, clock: FixedClock, settings: Settings) -> AsyncIterator[Api]:
    world = World(database, clock, settings)
    till = await world.merchant("mch_a", MON)
    await world.merchant("mch_b", MON)
    redemption = await world.redeem("mch_a", MON, 10_000)
    await world.run(MON)
    [batch] = await world.batches("mch_a")
    [payout] = await world.payouts("mch_a")
    async with database.transaction() as session:
        from tongka.settlement.contracts import contract_on

        contract = await contract_on(session, "mch_a", MON)
        assert contract is not None
    callers = {
        "finance": _platform("finance"),
        "support": _platform("support"),
        "manager": _merchant("mch_a", "merchant_admin"),
        "cashier": _merchant("mch_a", "cashier", till.store_id),
        "other": _merchant("mch_b", "merchant_admin"),
    }

    def caller(request: Request) -> Principal:
        name = request.headers.get("X-Test-Caller", "")
        if name not in callers:
            raise AuthenticationFailed("Missing or invalid credentials.")
        return callers[name]

    relaxed = settings.model_copy(update={"rate_limit_per_ip": "10000/second"})
    app = create_app(relaxed, database=database, clock=clock)
    app.dependency_overrides[authenticate] = caller
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(
            client,
            {
                "contract": contract.id,
                "batch": batch.id,
                "payout": payout.id,
                "redemption": redemption,
            },
        )


OBJECT_ROUTES = [
    "/v1/contracts/{contract}",
    "/v1/settlement_batches/{batch}",
    "/v1/settlement_batches/{batch}/lines",
    "/v1/settlement_batches/{batch}/statement.csv",
    "/v1/settlement_batches/{batch}/statement.pdf",
    "/v1/payouts/{payout}",
]
LIST_ROUTES = ["/v1/contracts", "/v1/settlement_batches", "/v1/payouts"]
EXPECTED = {"finance": 200, "support": 200, "manager": 200, "cashier": 403, "other": 404}


async def test_routes_by_role(api: Api) -> None:
    """Every route × role in one world (building it is the slow part)."""
    wrong = []
    for route in OBJECT_ROUTES:
        for caller, expected in EXPECTED.items():
            response = await api.get(route, caller)
            if response.status_code != expected:
                wrong.append((route, caller, response.status_code))
    for route in LIST_ROUTES:
        for caller in EXPECTED:
            response = await api.get(route, caller)
            if caller == "cashier":
                if response.status_code != 403:
                    wrong.append((route, caller, response.status_code))
                continue
            merchants = {row["merchant_id"] for row in response.json()["data"]}
            has_b = route == "/v1/contracts"  # mch_b has a contract, no batch or payout
            seen = {
                "manager": {"mch_a"},
                "other": {"mch_b"} if has_b else set(),
            }.get(caller, {"mch_a", "mch_b"} if has_b else {"mch_a"})
            if response.status_code != 200 or merchants != seen:
                wrong.append((route, caller, response.status_code, merchants))
    assert wrong == []


async def test_lines_and_statement_trace_to_the_ledger(api: Api) -> None:
    lines = (await api.get("/v1/settlement_batches/{batch}/lines", "manager")).json()
    assert [
        (line["kind"], line["amount"]["amount"], line["fee"]["amount"]) for line in lines["data"]
    ] == [("redemption", 9_940, 60)]
    assert lines["data"][0]["transfer_id"] == f"{api.ids['redemption']}:paid"
    statement = await api.get("/v1/settlement_batches/{batch}/statement.csv", "manager")
    assert statement.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(statement.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["业务日期", "发生时间", "类型"]
    assert rows[1][2:] == [
        "redemption",
        f"{api.ids['redemption']}:paid",
        api.ids["redemption"],
        "99.40",
        "0.60",
    ]
    assert rows[-1][2] == "net"
    assert rows[-1][5] == "99.40"


async def test_the_pdf_statement_shows_the_same_lines_in_chinese(api: Api) -> None:
    response = await api.get("/v1/settlement_batches/{batch}/statement.pdf", "manager")
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert b"/FontFile" not in response.content  # the reader's own CID font: nothing embedded
    text = pdf_text(response.content)
    for expected in (
        "结算对账单",
        api.ids["batch"],
        "核销",
        f"{api.ids['redemption']}:paid",
        "￥99.40",
        "￥0.60",
        "应结净额",
    ):
        assert expected in text, expected


async def test_the_contract_shows_the_account_masked(api: Api) -> None:
    contract = (await api.get("/v1/contracts/{contract}", "manager")).json()
    assert contract["account_number"] == "**** **** **** 3445"
    assert contract["cycle"] == "T+1"
    assert contract["fees"]["redemption_own"]["rate"] == "0.003"


@pytest.mark.parametrize(
    ("caller", "expected"), [("finance", 201), ("support", 403), ("manager", 403)]
)
async def test_only_finance_writes_contracts(api: Api, caller: str, expected: int) -> None:
    body = {
        "merchant_id": "mch_a",
        "effective_date": "2026-12-01",
        "fees": {"redemption_own": {"rate": "0.0025", "minimum": 1}},
        "cycle_days": 3,
        "bank_account": {
            "bank_name": "中国银行",
            "account_name": "mch_a 有限公司",
            "account_number": "6216610200016587010",
        },
    }
    answers = {}
    for caller in ("support", "manager", "finance"):
        answers[caller] = await api.client.post(
            "/v1/contracts",
            json=body,
            headers={"X-Test-Caller": caller, "Idempotency-Key": str(uuid.uuid4())},
        )
    assert {caller: r.status_code for caller, r in answers.items()} == {
        "support": 403,
        "manager": 403,
        "finance": 201,
    }
    assert answers["finance"].json()["version"] == 2
    assert answers["finance"].json()["account_number"] == "**** **** **** 7010"


async def test_a_retroactive_contract_is_a_clear_4xx(api: Api) -> None:
    body = {
        "merchant_id": "mch_a",
        "effective_date": "2026-01-01",
        "bank_account": {
            "bank_name": "中国银行",
            "account_name": "mch_a 有限公司",
            "account_number": "6216610200016587010",
        },
    }
    response = await api.client.post(
        "/v1/contracts",
        json=body,
        headers={"X-Test-Caller": "finance", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "contract_retroactive"
