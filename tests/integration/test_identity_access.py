"""Identity jobs of issue 10 on SQLite and PostgreSQL: changing one's password, an admin's
reset (temporary password changed at the next login), disabling and enabling users, and
a rejected merchant correcting and resubmitting its application (with its pass)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import (
    DEFAULT_NOW,
    TEST_KEYS,
    TEST_PASSWORD,
    make_merchant_with_key,
    registration,
    unique_email,
)
from tongka.db import Database
from tongka.errors import DomainError, InvalidRequest, PermissionDenied
from tongka.events.models import Event
from tongka.identity import service as identity
from tongka.identity.errors import IllegalTransition, InvalidCredentials, ObjectNotFound
from tongka.identity.models import ConsoleSession, Merchant, User
from tongka.identity.principal import Principal

NOW = DEFAULT_NOW
NEW_PASSWORD = "a brand new passphrase"


async def _user(
    database: Database, *, role: str, merchant_id: str | None = None, store_id: str | None = None
) -> tuple[User, Principal]:
    async with database.transaction() as session:
        user = await identity.create_user(
            session,
            email=unique_email(role),
            display_name=role,
            role=role,
            password=TEST_PASSWORD,
            actor="test",
            now=NOW,
            merchant_id=merchant_id,
            store_id=store_id,
        )
    return user, identity.principal_for_user(user)


async def _login(database: Database, email: str, password: str, **kwargs: str) -> str | None:
    async with database.transaction() as session:
        result = await identity.login(
            session, TEST_KEYS, email=email, password=password, now=NOW, **kwargs
        )
    return result.session_token or result.failure


async def _is_live(database: Database, token: str) -> bool:
    async with database.transaction() as session:
        return await identity.resolve_session(session, TEST_KEYS, token, now=NOW) is not None


async def _events(database: Database, object_id: str) -> list[str]:
    async with database.transaction() as session:
        statement = select(Event.type).where(Event.object_id == object_id)
        return list(await session.scalars(statement.order_by(Event.sequence)))


async def _admin_of(database: Database, merchant_id: str) -> User:
    async with database.transaction() as session:
        statement = select(User).where(
            User.merchant_id == merchant_id, User.role == "merchant_admin"
        )
        return (await session.scalars(statement)).one()


# --- change one's own password -------------------------------------------------------------


async def test_changing_ones_password_ends_the_other_sessions(database: Database) -> None:
    # given a user signed in twice
    user, _ = await _user(database, role="support")
    here, elsewhere = [await _login(database, user.email, TEST_PASSWORD) for _ in range(2)]
    assert here
    assert elsewhere
    async with database.transaction() as session:
        signed_in = await identity.resolve_session(session, TEST_KEYS, here, now=NOW)
        assert signed_in is not None
        keep = signed_in.console_session.id
    # when a wrong current password is given, nothing changes
    with pytest.raises(InvalidCredentials):
        async with database.transaction() as session:
            await identity.change_password(
                session, user.id, current_password="wrong one!", new_password=NEW_PASSWORD, now=NOW
            )
    assert await _is_live(database, elsewhere)
    # when the right one is
    async with database.transaction() as session:
        await identity.change_password(
            session,
            user.id,
            current_password=TEST_PASSWORD,
            new_password=NEW_PASSWORD,
            now=NOW,
            keep_session_id=keep,
        )
    # then this session lives on, the other one ended, and only the new password works
    assert await _is_live(database, here)
    assert not await _is_live(database, elsewhere)
    assert await _login(database, user.email, TEST_PASSWORD) == "invalid_credentials"
    assert len(await _login(database, user.email, NEW_PASSWORD) or "") > 20
    assert "user.password_changed" in await _events(database, user.id)


@pytest.mark.parametrize(
    ("new_password", "code"),
    [("short", "password_too_short"), (TEST_PASSWORD, "password_unchanged")],
    ids=["too short", "same as before"],
)
async def test_a_weak_or_unchanged_new_password_is_refused(
    database: Database, new_password: str, code: str
) -> None:
    user, _ = await _user(database, role="finance")
    with pytest.raises(InvalidRequest) as raised:
        async with database.transaction() as session:
            await identity.change_password(
                session, user.id, current_password=TEST_PASSWORD, new_password=new_password, now=NOW
            )
    assert raised.value.code == code
    assert raised.value.param == "new_password"
    assert await _events(database, user.id) == ["user.created"]


# --- reset a password ------------------------------------------------------------------------


async def test_a_reset_password_must_be_replaced_at_the_next_login(database: Database) -> None:
    # given a merchant's cashier, signed in
    merchant = await make_merchant_with_key(database)
    admin = identity.principal_for_user(await _admin_of(database, merchant.merchant_id))
    cashier, _ = await _user(database, role="cashier", merchant_id=merchant.merchant_id)
    token = await _login(database, cashier.email, TEST_PASSWORD)
    assert token
    assert await _is_live(database, token)
    # when the merchant's admin resets the cashier's password
    async with database.transaction() as session:
        reset = await identity.reset_password(
            session, cashier.id, principal=admin, reason="forgot it", now=NOW
        )
    temporary = reset.temporary_password
    assert len(temporary) == identity.TEMPORARY_PASSWORD_LENGTH
    # then the cashier is signed out, the old password fails, the temporary one alone opens
    # no session, and a too-short new one changes nothing
    assert not await _is_live(database, token)
    assert await _login(database, cashier.email, TEST_PASSWORD) == "invalid_credentials"
    assert await _login(database, cashier.email, temporary) == "password_change_required"
    with pytest.raises(InvalidRequest):
        await _login(database, cashier.email, temporary, new_password="short")
    with pytest.raises(InvalidRequest):
        await _login(database, cashier.email, temporary, new_password=temporary)
    # and with a new password the login opens a session and the temporary one is gone
    assert (
        len(await _login(database, cashier.email, temporary, new_password=NEW_PASSWORD) or "") > 20
    )
    assert await _login(database, cashier.email, temporary) == "invalid_credentials"
    assert len(await _login(database, cashier.email, NEW_PASSWORD) or "") > 20
    async with database.transaction() as session:
        stored = await session.get(User, cashier.id)
        assert stored is not None
        assert not stored.must_change_password
        assert temporary not in stored.password_hash
    assert (await _events(database, cashier.id))[-2:] == [
        "user.password_reset",
        "user.password_changed",
    ]


async def test_who_may_reset_whose_password(database: Database) -> None:
    mine = await make_merchant_with_key(database)
    other = await make_merchant_with_key(database)
    admin = identity.principal_for_user(await _admin_of(database, mine.merchant_id))
    other_cashier, _ = await _user(database, role="cashier", merchant_id=other.merchant_id)
    platform_admin_user, platform_admin = await _user(database, role="admin")
    operator, _ = await _user(database, role="risk")
    refusals: list[tuple[Principal, str, type[DomainError], str | None]] = [
        (admin, other_cashier.id, ObjectNotFound, "x"),  # another merchant's staff
        (admin, operator.id, ObjectNotFound, "x"),  # platform operators
        (admin, admin.actor.removeprefix("user:"), IllegalTransition, "x"),  # oneself
        (platform_admin, other_cashier.id, PermissionDenied, "x"),  # a merchant's business
        (platform_admin, platform_admin_user.id, IllegalTransition, "x"),
        (platform_admin, operator.id, InvalidRequest, None),  # no reason
    ]
    for principal, user_id, error, reason in refusals:
        with pytest.raises(error):
            async with database.transaction() as session:
                await identity.reset_password(
                    session, user_id, principal=principal, reason=reason, now=NOW
                )
    async with database.transaction() as session:
        reset = await identity.reset_password(
            session, operator.id, principal=platform_admin, reason="lost phone", now=NOW
        )
    assert reset.user.must_change_password
    async with database.transaction() as session:
        events = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "user.password_reset")
        )
    assert events == 1


# --- disable and enable ----------------------------------------------------------------------


async def test_a_disabled_user_is_signed_out_and_cannot_log_in_until_enabled(
    database: Database,
) -> None:
    merchant = await make_merchant_with_key(database)
    admin = identity.principal_for_user(await _admin_of(database, merchant.merchant_id))
    cashier, _ = await _user(database, role="cashier", merchant_id=merchant.merchant_id)
    token = await _login(database, cashier.email, TEST_PASSWORD)
    assert token
    with pytest.raises(InvalidRequest):  # a reason is required
        async with database.transaction() as session:
            await identity.set_user_enabled(
                session, cashier.id, is_enabled=False, principal=admin, reason=" ", now=NOW
            )
    assert await _is_live(database, token)
    async with database.transaction() as session:
        await identity.set_user_enabled(
            session, cashier.id, is_enabled=False, principal=admin, reason="left", now=NOW
        )
    assert not await _is_live(database, token)
    assert await _login(database, cashier.email, TEST_PASSWORD) == "invalid_credentials"
    with pytest.raises(IllegalTransition):
        async with database.transaction() as session:
            await identity.set_user_enabled(
                session, cashier.id, is_enabled=False, principal=admin, reason="again", now=NOW
            )
    async with database.transaction() as session:
        await identity.set_user_enabled(
            session, cashier.id, is_enabled=True, principal=admin, reason=None, now=NOW
        )
    assert len(await _login(database, cashier.email, TEST_PASSWORD) or "") > 20
    assert not await _is_live(database, token)  # the ended session stays ended
    assert (await _events(database, cashier.id))[-2:] == ["user.disabled", "user.enabled"]


async def test_nobody_disables_themselves_or_the_last_admin(database: Database) -> None:
    merchant = await make_merchant_with_key(database)
    first = await _admin_of(database, merchant.merchant_id)
    first_admin = identity.principal_for_user(first)
    _platform_user, platform_admin = await _user(database, role="admin")
    with pytest.raises(IllegalTransition) as own:
        async with database.transaction() as session:
            await identity.set_user_enabled(
                session, first.id, is_enabled=False, principal=first_admin, reason="x", now=NOW
            )
    assert own.value.code == "own_account"
    with pytest.raises(IllegalTransition) as raised:
        async with database.transaction() as session:  # the platform may, but not the last one
            await identity.set_user_enabled(
                session, first.id, is_enabled=False, principal=platform_admin, reason="x", now=NOW
            )
    assert raised.value.code == "last_active_admin"
    # with a second admin, the first may be disabled (by the second)
    second, second_admin = await _user(
        database, role="merchant_admin", merchant_id=merchant.merchant_id
    )
    async with database.transaction() as session:
        await identity.set_user_enabled(
            session, first.id, is_enabled=False, principal=second_admin, reason="left", now=NOW
        )
    assert await _login(database, first.email, TEST_PASSWORD) == "invalid_credentials"
    assert second.status == "active"


# --- a rejected merchant resubmits ---------------------------------------------------------


def _corrections(
    details: identity.MerchantRegistration, **changes: str
) -> identity.MerchantCorrections:
    values = {
        name: getattr(details, name)
        for name in ("legal_name", "credit_code", "contact_name", "contact_phone", "contact_email")
    }
    return identity.MerchantCorrections(**(values | changes))


async def test_a_rejected_merchant_logs_in_to_its_application_and_resubmits(
    database: Database,
) -> None:
    # given a rejected applicant
    details = registration("上海拒绝后更正有限公司")
    async with database.transaction() as session:
        merchant, admin = await identity.register_merchant(session, TEST_KEYS, details, now=NOW)
        await identity.review_merchant(
            session, merchant.id, "reject", actor="user:reviewer", now=NOW, reason="营业执照模糊"
        )
    # when its admin logs in, the login says so (no session), and a pass leads to the application
    assert await _login(database, details.admin_email, TEST_PASSWORD) == "merchant_rejected"
    assert await _login(database, details.admin_email, "wrong password") == "invalid_credentials"
    application_pass = identity.issue_application_pass(TEST_KEYS, admin, now=NOW)
    async with database.transaction() as session:
        found = await identity.resolve_application_pass(
            session, TEST_KEYS, application_pass, now=NOW
        )
        assert found is not None
        assert found.id == admin.id
        for bad in (application_pass + "x", "usr_x.1.y", "", application_pass.replace(".", "", 1)):
            assert await identity.resolve_application_pass(session, TEST_KEYS, bad, now=NOW) is None
        later = NOW + identity.APPLICATION_PASS_LIFETIME + timedelta(seconds=1)
        assert (
            await identity.resolve_application_pass(session, TEST_KEYS, application_pass, now=later)
            is None
        )
    # when it corrects its name and resubmits
    corrected = _corrections(details, legal_name="上海拒绝后更正餐饮有限公司")
    async with database.transaction() as session:
        resubmitted = await identity.resubmit_merchant(
            session, TEST_KEYS, merchant.id, corrected, actor=f"user:{admin.id}", now=NOW
        )
    # then it waits for review again, with the history kept
    assert resubmitted.status == "pending_review"
    assert resubmitted.legal_name == "上海拒绝后更正餐饮有限公司"
    assert resubmitted.rejection_reason == "营业执照模糊"
    async with database.transaction() as session:
        event = await session.scalar(
            select(Event).where(
                Event.type == "merchant.resubmitted", Event.object_id == merchant.id
            )
        )
    assert event is not None
    assert event.data["answering"] == "营业执照模糊"
    assert event.data["changes"] == {
        "legal_name": {"before": "上海拒绝后更正有限公司", "after": "上海拒绝后更正餐饮有限公司"}
    }
    assert await _events(database, merchant.id) == [
        "merchant.registered",
        "merchant.rejected",
        "merchant.resubmitted",
    ]
    # and it cannot resubmit again while pending; the reviewer can approve it
    with pytest.raises(IllegalTransition):
        async with database.transaction() as session:
            await identity.resubmit_merchant(
                session, TEST_KEYS, merchant.id, corrected, actor="x", now=NOW
            )
    async with database.transaction() as session:
        await identity.review_merchant(session, merchant.id, "approve", actor="user:r", now=NOW)
    assert len(await _login(database, details.admin_email, TEST_PASSWORD) or "") > 20


async def test_a_bad_correction_changes_nothing(database: Database) -> None:
    taken = registration()
    details = registration()
    async with database.transaction() as session:
        await identity.register_merchant(session, TEST_KEYS, taken, now=NOW)
        merchant, _ = await identity.register_merchant(session, TEST_KEYS, details, now=NOW)
        await identity.review_merchant(
            session, merchant.id, "reject", actor="user:r", now=NOW, reason="x"
        )
    for bad in (
        _corrections(details, credit_code="91310000000000000X"),
        _corrections(details, credit_code=taken.credit_code),
        _corrections(details, legal_name=" "),
    ):
        with pytest.raises(DomainError):
            async with database.transaction() as session:
                await identity.resubmit_merchant(
                    session, TEST_KEYS, merchant.id, bad, actor="x", now=NOW
                )
    async with database.transaction() as session:
        stored = await session.get(Merchant, merchant.id)
        assert stored is not None
        assert (stored.status, stored.credit_code) == ("rejected", details.credit_code)
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 0
    assert await _events(database, merchant.id) == ["merchant.registered", "merchant.rejected"]
