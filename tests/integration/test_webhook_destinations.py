"""Webhook destinations: one DNS lookup per delivery, and the checked address is the one used.

The resolver is replaced by a script of answers, the way a rebinding DNS server would
answer: a public address to the first question, an internal one to the next.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.test_webhook_delivery import attempts, emit, register
from tests.receiver import Receiver, running_receiver
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.webhooks.delivery import Claim, deliver_due, send
from tongka.webhooks.urls import DestinationRefused, resolve_destination

PUBLIC = "93.184.216.34"


class ScriptedResolver:
    """Answers each lookup with the next list of addresses, and counts the lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers.pop(0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


def claim(url: str) -> Claim:
    return Claim(
        delivery_id="whd_1",
        lease_token="t",
        attempt_number=1,
        created_at=FixedClock().now(),
        endpoint_id="we_1",
        event_id="evt_1",
        url=url,
        secrets=["whsec_x"],
        payload=b"{}",
    )


@pytest.mark.parametrize("second_answer", ["127.0.0.1", "169.254.169.254"])
async def test_a_rebinding_name_is_connected_to_at_the_address_that_was_checked(
    settings: Settings, second_answer: str
) -> None:
    # given a name that answers a public address first and an internal one next
    resolver = ScriptedResolver([PUBLIC], [second_answer])
    seen: list[httpx.Request] = []

    def transport(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    # when one delivery is sent
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        outcome = await send(
            client, claim("https://hooks.shop.example/in?x=1"), FixedClock(), settings, resolver
        )
    # then the name was looked up once, and the request went to the checked address
    assert resolver.lookups == ["hooks.shop.example"]
    [request] = seen
    assert str(request.url) == f"https://{PUBLIC}/in?x=1"
    assert request.headers["Host"] == "hooks.shop.example"
    assert request.extensions["sni_hostname"] == "hooks.shop.example"
    assert outcome.status_code == 204


@pytest.mark.parametrize(
    "answer",
    [
        ["169.254.169.254"],
        ["fd00:ec2::254"],
        ["10.0.0.7"],
        ["100.100.100.200"],  # Alibaba Cloud metadata (CGNAT range)
        ["127.0.0.1"],
        [PUBLIC, "192.168.1.1"],  # one internal answer among public ones is enough
        [],
    ],
)
async def test_a_name_resolving_into_the_local_network_is_refused_in_development(
    settings: Settings, answer: list[str]
) -> None:
    settings.environment = "development"
    with pytest.raises(DestinationRefused) as refused:
        await resolve_destination(
            "http://hooks.shop.example/in", settings, ScriptedResolver(answer)
        )
    assert refused.value.param == "url"


async def test_the_worker_resolves_once_and_delivers_to_the_first_answer(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    # given an endpoint whose name answers the receiver (loopback allowed) and then metadata
    settings.webhook_allow_loopback = True
    port = receiver.url.split(":")[2].split("/")[0]
    await register(database, settings, clock, f"http://receiver.shop.example:{port}/hooks")
    await emit(database, clock)
    resolver = ScriptedResolver(["127.0.0.1"], ["169.254.169.254"])
    # when the worker delivers
    assert await deliver_due(database, clock, settings, resolver) == 1
    # then one lookup, and the receiver got the request under the endpoint's name
    assert resolver.lookups == ["receiver.shop.example"]
    [received] = receiver.requests
    assert received.headers["Host"] == f"receiver.shop.example:{port}"
    [attempt] = await attempts(database)
    assert attempt.status_code == 200


async def test_a_refused_destination_is_recorded_and_nothing_is_sent(
    database: Database, settings: Settings, clock: FixedClock, receiver: Receiver
) -> None:
    settings.environment = "development"
    await register(database, settings, clock, "http://metadata.shop.example/latest")
    await emit(database, clock)
    resolver = ScriptedResolver(["169.254.169.254"])
    assert await deliver_due(database, clock, settings, resolver) == 1
    [attempt] = await attempts(database)
    assert attempt.status_code is None
    assert attempt.error == (
        "refused: url: metadata.shop.example resolves to 169.254.169.254: link-local "
        "addresses (such as cloud metadata endpoints) are not allowed"
    )
    assert receiver.requests == []
