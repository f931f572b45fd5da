"""Identity jobs of issue 10 in the console, over HTTP: change one's password, an admin's
reset (the temporary password shown once, replaced at the next login), disabling and
enabling a user, and a rejected applicant reaching, correcting and resubmitting its
application through the login page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.factories import (
    TEST_KEYS,
    TEST_PASSWORD,
    make_merchant_with_key,
    registration,
    unique_email,
)
from tests.integration.test_card_console import _browser, _csrf, _post
from tongka.api.app import create_app
from tongka.clock import FixedClock
from tongka.config import Settings
from tongka.db import Database
from tongka.events.models import Event
from tongka.identity import service as identity
from tongka.identity.models import Merchant, User

NEW_PASSWORD = "a brand new passphrase"
TEMPORARY = re.compile(r"data-temporary-password>([A-Za-z0-9]+)<")


@pytest.fixture
def app(settings: Settings, database: Database, clock: FixedClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _user(database: Database, clock: FixedClock, role: str, merchant_id: str | None) -> User:
    async with database.transaction() as session:
        return await identity.create_user(
            session,
            email=unique_email(role),
            display_name=f"{role} 用户",
            role=role,
            password=TEST_PASSWORD,
            actor="test",
            now=clock.now(),
            merchant_id=merchant_id,
        )


async def _stored(database: Database, user_id: str) -> User:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


@pytest.fixture
async def staff(
    app: FastAPI, database: Database, clock: FixedClock
) -> AsyncIterator[tuple[str, httpx.AsyncClient, User, httpx.AsyncClient]]:
    """(merchant id, its admin's browser, a cashier, the cashier's browser)."""
    merchant = await make_merchant_with_key(database)
    cashier = await _user(database, clock, "cashier", merchant.merchant_id)
    admin = await _browser(app, merchant.admin_email, TEST_PASSWORD)
    till = await _browser(app, cashier.email, TEST_PASSWORD)
    yield merchant.merchant_id, admin, cashier, till
    await admin.aclose()
    await till.aclose()


async def test_a_user_changes_their_password_and_other_sessions_end(
    app: FastAPI, staff: tuple[str, httpx.AsyncClient, User, httpx.AsyncClient]
) -> None:
    _, _, cashier, till = staff
    elsewhere = await _browser(app, cashier.email, TEST_PASSWORD)
    assert "/console/password" in (await till.get("/console/stores")).text  # in the nav
    wrong = await _post(
        till,
        "/console/password",
        "/console/password",
        current_password="not my password",
        new_password=NEW_PASSWORD,
        new_password_again=NEW_PASSWORD,
    )
    assert (wrong.status_code, wrong.headers["location"]) == (303, "/console/password")
    page = (await till.get("/console/password")).text
    assert "field-error" in page
    assert NEW_PASSWORD not in page  # passwords never come back
    differ = await _post(
        till,
        "/console/password",
        "/console/password",
        current_password=TEST_PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_again=NEW_PASSWORD + "x",
    )
    assert differ.status_code == 303
    assert (await elsewhere.get("/console/password")).status_code == 200  # unchanged so far
    done = await _post(
        till,
        "/console/password",
        "/console/password",
        current_password=TEST_PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_again=NEW_PASSWORD,
    )
    assert done.status_code == 303
    assert (await till.get("/console/password")).status_code == 200  # this session stays
    assert (await elsewhere.get("/console/password")).status_code == 303  # the other ended
    await elsewhere.aclose()
    await (await _browser(app, cashier.email, NEW_PASSWORD)).aclose()  # the new one works


async def test_an_admin_resets_a_password_shown_once_and_it_is_replaced_at_login(
    app: FastAPI,
    database: Database,
    staff: tuple[str, httpx.AsyncClient, User, httpx.AsyncClient],
) -> None:
    _, admin, cashier, till = staff
    page = f"/console/users/{cashier.id}"
    assert page in (await admin.get("/console/users")).text
    assert (await till.get(page)).status_code == 403
    no_reason = await _post(admin, f"{page}/reset_password", page, reason=" ")
    assert (no_reason.status_code, no_reason.headers["location"]) == (303, page)
    assert not (await _stored(database, cashier.id)).must_change_password
    reset = await _post(admin, f"{page}/reset_password", page, reason="忘记密码")
    assert reset.status_code == 200
    assert reset.headers["cache-control"] == "no-store"
    found = TEMPORARY.search(reset.text)
    assert found is not None
    temporary = found.group(1)
    assert temporary not in (await admin.get(page)).text  # shown once
    assert (await till.get("/console/stores")).status_code == 303  # signed out at once
    # the temporary password alone opens no session: it asks for a new one
    browser = _client(app)
    token = await _csrf(browser, "/console/login")
    asked = await browser.post(
        "/console/login",
        data={"csrf_token": token, "email": cashier.email, "password": temporary},
    )
    assert (asked.status_code, asked.headers["location"]) == (303, "/console/login/new_password")
    assert "tongka_session" not in browser.cookies
    form_page = await browser.get("/console/login/new_password")
    assert f'value="{cashier.email}"' in form_page.text  # the email kept, not the password
    assert temporary not in form_page.text
    short = await browser.post(
        "/console/login/new_password",
        data={
            "csrf_token": token,
            "email": cashier.email,
            "password": temporary,
            "new_password": "short",
            "new_password_again": "short",
        },
    )
    assert (short.status_code, short.headers["location"]) == (303, "/console/login/new_password")
    assert "field-error" in (await browser.get("/console/login/new_password")).text
    assert (await _stored(database, cashier.id)).must_change_password
    changed = await browser.post(
        "/console/login/new_password",
        data={
            "csrf_token": token,
            "email": cashier.email,
            "password": temporary,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 303
    assert (await browser.get("/console/password")).status_code == 200
    assert not (await _stored(database, cashier.id)).must_change_password
    await browser.aclose()


async def test_a_disabled_user_is_signed_out_and_the_last_admin_stays(
    app: FastAPI,
    database: Database,
    clock: FixedClock,
    staff: tuple[str, httpx.AsyncClient, User, httpx.AsyncClient],
) -> None:
    merchant_id, admin, cashier, till = staff
    page = f"/console/users/{cashier.id}"
    assert (
        await _post(till, f"{page}/disable", "/console/password", reason="x")
    ).status_code == 403
    blank = await _post(admin, f"{page}/disable", page, reason="")
    assert blank.status_code == 303
    assert (await till.get("/console/password")).status_code == 200
    done = await _post(admin, f"{page}/disable", page, reason="离职")
    assert (done.status_code, done.headers["location"]) == (303, page)
    assert (await _stored(database, cashier.id)).status == "disabled"
    assert (await till.get("/console/password")).status_code == 303  # signed out at once
    async with _client(app) as browser:
        token = await _csrf(browser, "/console/login")
        refused = await browser.post(
            "/console/login",
            data={"csrf_token": token, "email": cashier.email, "password": TEST_PASSWORD},
        )
        assert (refused.status_code, refused.headers["location"]) == (303, "/console/login")
        assert "tongka_session" not in browser.cookies
    enabled = await _post(admin, f"{page}/enable", page)
    assert enabled.status_code == 303
    assert (await _stored(database, cashier.id)).status == "active"
    # the merchant's only admin cannot disable itself, nor can the platform disable it
    async with database.transaction() as session:
        statement = select(User).where(
            User.merchant_id == merchant_id, User.role == "merchant_admin"
        )
        only_admin = (await session.scalars(statement)).one()
    own = f"/console/users/{only_admin.id}"
    assert "/disable" not in (await admin.get(own)).text
    answer = await _post(admin, f"{own}/disable", own, reason="x")
    assert answer.status_code == 303
    assert (await _stored(database, only_admin.id)).status == "active"
    async with database.transaction() as session:
        events = list(
            await session.scalars(select(Event.type).where(Event.object_id == cashier.id))
        )
    assert events[-2:] == ["user.disabled", "user.enabled"]


async def test_a_rejected_applicant_corrects_and_resubmits_from_the_login_page(
    app: FastAPI, database: Database, clock: FixedClock
) -> None:
    details = registration("上海待更正商贸有限公司")
    async with database.transaction() as session:
        merchant, _ = await identity.register_merchant(session, TEST_KEYS, details, now=clock.now())
        await identity.review_merchant(
            session,
            merchant.id,
            "reject",
            actor="user:r",
            now=clock.now(),
            reason="联系电话无法接通",
        )
    async with _client(app) as browser:
        assert (await browser.get("/console/application")).status_code == 303  # no pass
        token = await _csrf(browser, "/console/login")
        wrong = await browser.post(
            "/console/login",
            data={"csrf_token": token, "email": details.admin_email, "password": "nope nope nope"},
        )
        assert (wrong.status_code, wrong.headers["location"]) == (303, "/console/login")
        assert "tongka_application" not in browser.cookies
        landed = await browser.post(
            "/console/login",
            data={"csrf_token": token, "email": details.admin_email, "password": TEST_PASSWORD},
        )
        assert (landed.status_code, landed.headers["location"]) == (303, "/console/application")
        assert "tongka_session" not in browser.cookies  # no console session
        page = await browser.get("/console/application")
        assert page.status_code == 200
        assert "联系电话无法接通" in page.text
        assert (await browser.get("/console/stores")).status_code == 303  # nothing else
        form_token = await _csrf(browser, "/console/application")
        fields = {
            "legal_name": details.legal_name,
            "credit_code": details.credit_code,
            "contact_name": details.contact_name,
            "contact_email": details.contact_email,
        }
        bad = await browser.post(
            "/console/application",
            data={"csrf_token": form_token, **fields, "contact_phone": "not a phone"},
        )
        assert (bad.status_code, bad.headers["location"]) == (303, "/console/application")
        assert "not a phone" in (await browser.get("/console/application")).text  # kept
        async with database.transaction() as session:
            unchanged = await session.get(Merchant, merchant.id)
            assert unchanged is not None
            assert unchanged.status == "rejected"
        sent = await browser.post(
            "/console/application",
            data={"csrf_token": form_token, **fields, "contact_phone": "13900001111"},
        )
        assert sent.status_code == 303
        again = await browser.get("/console/application")
        assert 'class="alert success"' in again.text
        assert 'name="legal_name"' not in again.text  # pending: nothing to correct
    async with database.transaction() as session:
        stored = await session.get(Merchant, merchant.id)
        assert stored is not None
        assert (stored.status, stored.contact_phone) == ("pending_review", "13900001111")
