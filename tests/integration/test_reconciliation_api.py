"""Reconciliation through HTTP: finance runs a day, reads its report and exceptions,
an operator proposes, another person approves (the proposer cannot)."""

from __future__ import annotations

from datetime import date, timedelta

from tests.factories import api_client, make_merchant_with_key, make_platform_key
from tests.reconciliation_support import (
    DAY,
    StatementChannel,
    add_payments,
    at,
    line,
    payment_row,
)
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.payments import registry
from tongka.payments.channel import ChannelError, ChannelName


async def test_run_report_exceptions_propose_and_approve(
    settings: Settings, database: Database
) -> None:
    # given our books and the channel's bill (one line we do not have: 长款)
    async with database.transaction() as session:
        await add_payments(session, [payment_row("pay_1", 10_000, 60, at())])
    channel = StatementChannel([line("pay_1", 10_000, 60), line("pay_long", 5_000, 30)])
    app = create_app(settings, database=database, clock=FixedClock(at(DAY + timedelta(days=1))))
    finance = await make_platform_key(database, role="finance")
    support = await make_platform_key(database, role="support")
    merchant = await make_merchant_with_key(database)
    with registry.override_channels({ChannelName.WECHAT: channel}):  # type: ignore[dict-item]
        async with (
            api_client(app, finance) as finance_client,
            api_client(app, support) as support_client,
            api_client(app, merchant.api_key) as merchant_client,
        ):
            # when finance runs the day (twice: the second answers the first)
            body = {"statement_date": DAY.isoformat(), "channel": "wechat"}
            first = await finance_client.post("/v1/reconciliations", json=body)
            again = await finance_client.post("/v1/reconciliations", json=body)

            # then
            assert first.status_code == 201, first.text
            run = first.json()
            assert again.json()["id"] == run["id"]
            assert channel.downloads == 1
            assert (run["line_count"], run["exception_count"]) == (2, 1)
            assert run["report"]["match_rate"] == "50.00"
            assert run["report"]["exceptions_by_kind"] == {"long": 1}
            assert run["report"]["open_by_age"]["under_1_day"] == 1
            listed = await finance_client.get("/v1/reconciliations", params={"channel": "wechat"})
            assert [item["id"] for item in listed.json()["data"]] == [run["id"]]
            # a merchant sees none of it
            assert (
                await merchant_client.get(f"/v1/reconciliations/{run['id']}")
            ).status_code == 403

            exceptions = await finance_client.get(f"/v1/reconciliations/{run['id']}/exceptions")
            [exception] = exceptions.json()["data"]
            assert (exception["kind"], exception["status"], exception["reference"]) == (
                "long",
                "open",
                "pay_long",
            )

            # an operator proposes an adjustment; they cannot approve it themselves
            proposed = await support_client.post(
                f"/v1/reconciliation_exceptions/{exception['id']}/resolutions",
                json={"method": "adjustment", "reason": "unrecorded payment"},
            )
            assert proposed.status_code == 201, proposed.text
            resolution = proposed.json()
            assert resolution["amount"] == {"amount": 5_000, "currency": "CNY"}
            approved = await finance_client.post(
                f"/v1/reconciliation_resolutions/{resolution['id']}/approve"
            )
            assert approved.status_code == 200, approved.text  # finance is another person
            assert approved.json()["transfer_id"] == f"reconciliation:{resolution['id']}"
            # the proposer's own approval of a second adjustment is refused (four eyes)
            second = await finance_client.post(
                f"/v1/reconciliation_exceptions/{exception['id']}/resolutions",
                json={"method": "manual_match", "reason": "again"},
            )
            assert second.json()["error"]["code"] == "reconciliation_exception_resolved"
            after = await finance_client.get(
                f"/v1/reconciliations/{run['id']}/exceptions", params={"status": "resolved"}
            )
            assert [item["id"] for item in after.json()["data"]] == [exception["id"]]


async def test_the_proposer_cannot_approve_through_http(
    settings: Settings, database: Database
) -> None:
    from tests.reconciliation_support import seeded_run

    _, _, resolution_id = await seeded_run(database, DAY)
    app = create_app(settings, database=database, clock=FixedClock(at(DAY + timedelta(days=1))))
    finance = await make_platform_key(database, role="finance")
    async with api_client(app, finance) as client:
        # the seeded proposal's actor is someone else: fine; now a proposal by this key
        response = await client.post(f"/v1/reconciliation_resolutions/{resolution_id}/approve")
        assert response.status_code == 200
        runs = (await client.get("/v1/reconciliations")).json()["data"]
        exceptions = (await client.get(f"/v1/reconciliations/{runs[0]['id']}/exceptions")).json()
        short = next(e for e in exceptions["data"] if e["kind"] == "short")
        proposed = await client.post(
            f"/v1/reconciliation_exceptions/{short['id']}/resolutions",
            json={"method": "adjustment", "reason": "written off after inquiry"},
        )
        own = await client.post(f"/v1/reconciliation_resolutions/{proposed.json()['id']}/approve")
        assert own.status_code == 422, own.text
        assert own.json()["error"]["code"] == "reconciliation_same_approver"


class _Down(StatementChannel):
    async def download_statement(self, statement_date: date) -> bytes:
        raise ChannelError("channel unreachable: ConnectError")


async def test_a_day_not_over_or_a_channel_down_is_refused_and_changes_nothing(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings, database=database, clock=FixedClock(at(DAY, 20)))
    finance = await make_platform_key(database, role="finance")
    with registry.override_channels({ChannelName.WECHAT: _Down([])}):  # type: ignore[dict-item]
        async with api_client(app, finance) as client:
            today = await client.post(
                "/v1/reconciliations", json={"statement_date": DAY.isoformat(), "channel": "wechat"}
            )
            down = await client.post(
                "/v1/reconciliations",
                json={"statement_date": (DAY - timedelta(days=1)).isoformat(), "channel": "wechat"},
            )
            runs = await client.get("/v1/reconciliations")
    assert (today.status_code, today.json()["error"]["code"]) == (
        422,
        "reconciliation_day_not_over",
    )
    assert (down.status_code, down.json()["error"]["code"]) == (
        409,
        "reconciliation_statement_unavailable",
    )
    assert runs.json()["data"] == []
