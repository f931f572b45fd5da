"""Every route of the OpenAPI document x every kind of caller: the answer is allowed or
refused exactly as ``tongka.policy.TABLE`` says.

Real credentials are made through the services (platform keys of each role, a merchant
admin's console session, a ``full`` key, cashier keys unbound and bound to a store, a
consumer's token) and the table is asked about the ``Principal`` each resolves to. Ids in
paths are unknown and unsafe calls carry a body the schema refuses, so nothing changes:
an allowed call answers 404/422 (or 200 for a read), a refused one 403 naming the action,
and an anonymous one 401. The app and the callers are built once for the whole walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import (
    TEST_KEYS,
    api_client,
    make_consumer_with_token,
    make_merchant_with_key,
)
from tests.integration.test_policy_routes import route_policies
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import CSRF_HEADER, SESSION_COOKIE
from tongka.identity import service as identity
from tongka.identity.principal import Principal
from tongka.policy import allowed

PARAMETER = re.compile(r"\{([^}]+)\}")
UNKNOWN_ID = "zzz_00000000000000000000000000"
REFUSED_BODY = {"policy_walk_unknown_field": 1}


@dataclass
class Caller:
    name: str
    principal: Principal | None  # None: anonymous
    headers: dict[str, str]
    cookies: dict[str, str]


async def _key_caller(database: Database, name: str, secret: str, clock: FixedClock) -> Caller:
    async with database.transaction() as session:
        principal = await identity.authenticate_api_key(session, TEST_KEYS, secret, now=clock.now())
    assert principal is not None, name
    return Caller(name, principal, {"Authorization": f"Bearer {secret}"}, {})


async def _callers(database: Database, clock: FixedClock) -> list[Caller]:
    now = clock.now()
    merchant = await make_merchant_with_key(database, with_store=True, now=now)
    secrets: dict[str, str] = {"merchant full key": merchant.api_key}
    async with database.transaction() as session:
        for role in ("admin", "finance", "risk", "support"):
            issued = await identity.create_api_key(
                session, TEST_KEYS, name=role, role=role, actor="test", now=now
            )
            secrets[f"platform {role} key"] = issued.secret
        for name, store_id in (
            ("cashier key", None),
            ("store-bound cashier key", merchant.store_id),
        ):
            issued = await identity.create_api_key(
                session,
                TEST_KEYS,
                name=name,
                role="cashier",
                merchant_id=merchant.merchant_id,
                store_id=store_id,
                actor="test",
                now=now,
            )
            secrets[name] = issued.secret
        signed_in = await identity.login(
            session,
            TEST_KEYS,
            email=merchant.admin_email,
            password=merchant.admin_password,
            now=now,
        )
    assert signed_in.session_token is not None
    assert signed_in.console_session is not None
    callers = [await _key_caller(database, name, secret, clock) for name, secret in secrets.items()]
    async with database.transaction() as session:
        admin = await identity.resolve_session(session, TEST_KEYS, signed_in.session_token, now=now)
    assert admin is not None
    csrf = identity.csrf_token_for(TEST_KEYS, signed_in.console_session.id)
    callers.append(
        Caller(
            "merchant admin user (console session)",
            admin.principal,
            {CSRF_HEADER: csrf},
            {SESSION_COOKIE: signed_in.session_token},
        )
    )
    holder = await make_consumer_with_token(database, now=now)
    async with database.transaction() as session:
        consumer = await identity.resolve_session(session, TEST_KEYS, holder.token, now=now)
    assert consumer is not None
    callers.append(
        Caller(
            "consumer token", consumer.principal, {"Authorization": f"Bearer {holder.token}"}, {}
        )
    )
    callers.append(Caller("anonymous", None, {}, {}))
    return callers


def _verdict(response: httpx.Response, caller: Caller, action: Any) -> str | None:
    """None if the answer matches the table, else what went wrong."""
    refused_by_policy = (
        response.status_code == 403 and "Not allowed to take the action" in response.text
    )
    if action is None:  # public
        return None if response.status_code not in (401, 403) else "public route refused"
    if caller.principal is None:
        return None if response.status_code == 401 else "anonymous caller not refused with 401"
    if allowed(caller.principal, action):
        return (
            None
            if response.status_code not in (401,) and not refused_by_policy
            else (f"allowed by the table ({action}) but refused")
        )
    if refused_by_policy and action.value in response.text:
        return None
    return f"refused by the table ({action}) but answered"


async def test_every_route_answers_every_caller_as_the_table_says(
    settings: Settings, sqlite_database: Database, clock: FixedClock
) -> None:
    settings = settings.model_copy(
        update={"rate_limit_per_key": "10000/second", "rate_limit_per_ip": "10000/second"}
    )
    app = create_app(settings, database=sqlite_database, clock=clock)
    policies = route_policies(settings, sqlite_database)
    callers = await _callers(sqlite_database, clock)
    failures: list[str] = []
    checked = 0
    async with api_client(app) as client:
        # DELETE last: ending the consumer's session is allowed, and ends it
        routes = sorted(policies.items(), key=lambda item: (item[0][0] == "DELETE", item[0][1]))
        for (method, path), action in routes:
            if method == "HEAD":
                continue
            target = PARAMETER.sub(UNKNOWN_ID, path)
            body = None if method in ("GET", "DELETE") else REFUSED_BODY
            for caller in callers:
                if action is None and method != "GET":
                    continue  # public sign-in and registration calls: checked elsewhere
                client.cookies = httpx.Cookies(caller.cookies)
                response = await client.request(method, target, json=body, headers=caller.headers)
                problem = _verdict(response, caller, action)
                if problem:
                    failures.append(
                        f"{method} {path} as {caller.name}: {problem}: "
                        f"{response.status_code} {response.text[:160]}"
                    )
                checked += 1
    assert failures == [], "\n".join(failures)
    assert checked >= 500
