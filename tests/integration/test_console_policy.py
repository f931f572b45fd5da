"""Every console GET page x every kind of signed-in caller: 200-ish or 403 exactly as
``tongka.policy.TABLE`` says (the page's ``Allowed`` action), and the login page for
nobody. Sessions are real (``identity.login`` / consumer sign-in); ids are unknown, so an
allowed page answers 200 or 404 and a refused one 403. Built once for the whole walk."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute, iter_route_contexts

from tests.factories import (
    TEST_KEYS,
    TEST_PASSWORD,
    make_consumer_with_token,
    make_merchant_with_key,
    unique_email,
)
from tests.integration.test_policy_routes import declarations
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.edge.auth import SESSION_COOKIE
from tongka.identity import service as identity
from tongka.identity.principal import Principal
from tongka.policy import Action, allowed

PARAMETER = re.compile(r"\{([^}]+)\}")
UNKNOWN_ID = "zzz_00000000000000000000000000"


def console_pages(app: Any) -> dict[str, Action | None]:
    """GET console path -> the page's action (None: no policy, e.g. the login page)."""
    pages: dict[str, Action | None] = {}
    for context in iter_route_contexts(app.routes):
        route = context.route
        path = context.path_format
        if isinstance(route, APIRoute) and "GET" in route.methods and path.startswith("/console"):
            found = declarations(route.dependant)
            pages[path] = getattr(found[0], "policy_action", None) if found else None
    return pages


async def _signed_in(
    database: Database, clock: FixedClock
) -> list[tuple[str, Principal | None, str | None]]:
    now = clock.now()
    merchant = await make_merchant_with_key(database, with_store=True, now=now)
    logins = [("merchant admin", merchant.admin_email)]
    async with database.transaction() as session:
        for role in ("admin", "finance", "risk", "support"):
            email = unique_email(role)
            await identity.create_user(
                session,
                email=email,
                display_name=role,
                role=role,
                password=TEST_PASSWORD,
                actor="test",
                now=now,
            )
            logins.append((f"platform {role}", email))
        for name, store_id in (("cashier", None), ("store-bound cashier", merchant.store_id)):
            email = unique_email("cashier")
            await identity.create_user(
                session,
                email=email,
                display_name=name,
                role="cashier",
                password=TEST_PASSWORD,
                actor="test",
                now=now,
                merchant_id=merchant.merchant_id,
                store_id=store_id,
            )
            logins.append((name, email))
    callers: list[tuple[str, Principal | None, str | None]] = []
    holder = await make_consumer_with_token(database, now=now)
    tokens = []
    async with database.transaction() as session:
        for name, email in logins:
            result = await identity.login(
                session, TEST_KEYS, email=email, password=TEST_PASSWORD, now=now
            )
            assert result.session_token is not None, name
            tokens.append((name, result.session_token))
        tokens.append(("consumer", holder.token))
        for name, token in tokens:
            signed_in = await identity.resolve_session(session, TEST_KEYS, token, now=now)
            assert signed_in is not None, name
            callers.append((name, signed_in.principal, token))
    callers.append(("nobody", None, None))
    return callers


TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def _plain_title(response: httpx.Response) -> bool:
    """An HTML page's title is text: a template's ``title`` block holds no page content
    (fragments, such as a picker's options, have no title)."""
    if "text/html" not in response.headers.get("content-type", ""):
        return True
    found = TITLE.search(response.text)
    return found is None or "<" not in found.group(1)


async def test_every_console_page_answers_every_role_as_the_table_says(
    settings: Settings, sqlite_database: Database, clock: FixedClock
) -> None:
    app = create_app(settings, database=sqlite_database, clock=clock)
    pages = console_pages(app)
    callers = await _signed_in(sqlite_database, clock)
    failures: list[str] = []
    checked = 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path, action in sorted(pages.items()):
            if action is None:
                continue
            target = PARAMETER.sub(UNKNOWN_ID, path)
            for name, principal, token in callers:
                client.cookies = httpx.Cookies({SESSION_COOKIE: token} if token else {})
                response = await client.get(target)
                status = response.status_code
                if principal is None:
                    ok = status in (302, 303) and "/login" in response.headers.get("location", "")
                elif allowed(principal, action):
                    ok = status in (200, 404)
                else:
                    ok = status == 403
                if not ok:
                    failures.append(f"GET {path} ({action}) as {name}: {status}")
                if status == 200 and not _plain_title(response):
                    failures.append(f"GET {path} as {name}: the <title> holds markup")
                checked += 1
    assert failures == [], "\n".join(failures)
    assert checked >= 100


def test_the_redemption_pages_are_in_the_walk(settings: Settings) -> None:
    """The cashier, payment code and report pages are walked, each under its action."""
    pages = console_pages(create_app(settings))
    assert pages["/console/till"] is Action.REDEMPTION_CREATE
    assert pages["/console/me/payment_code"] is Action.PAYMENT_CODE_ISSUE
    assert pages["/console/redemption_report"] is Action.REDEMPTION_READ


PUBLIC_PAGES = {
    "/console/login",
    "/console/register",
    "/console/consumer/login",
    "/console/balance",
    "/console/receipts",
}


async def test_the_public_pages_answer_a_visitor(
    settings: Settings, sqlite_database: Database, clock: FixedClock
) -> None:
    """The public pages declare no action, and each answers a visitor not signed in."""
    app = create_app(settings, database=sqlite_database, clock=clock)
    public = {path for path, action in console_pages(app).items() if action is None}
    assert public >= PUBLIC_PAGES
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in sorted(PUBLIC_PAGES):
            assert (await client.get(path)).status_code == 200, path
