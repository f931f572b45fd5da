"""The policy table: every action has a row, and the rules issue #9 asked for hold."""

from __future__ import annotations

import pytest

from tongka.errors import PermissionDenied
from tongka.identity.principal import SYSTEM, Principal, PrincipalKind, expand_role
from tongka.policy import TABLE, Action, Scope, allowed, authorize


def merchant(role: str, store_id: str | None = None) -> Principal:
    return Principal(
        PrincipalKind.MERCHANT, f"api_key:{role}", expand_role(role), "mch_a", store_id
    )


HOLDER = Principal(PrincipalKind.CONSUMER, "consumer:c", frozenset({"consumer"}), consumer_id="c")
TILL = merchant("cashier", store_id="sto_a")


def test_every_action_has_a_row() -> None:
    assert set(TABLE) == set(Action)
    assert all(TABLE[action] for action in Action)


def test_a_till_reads_and_freezes_but_never_takes_a_cards_value() -> None:
    assert allowed(TILL, Action.CARD_READ)
    assert allowed(TILL, Action.CARD_FREEZE)
    for action in (
        Action.CARD_REPORT_LOST,
        Action.CARD_REISSUE,
        Action.CARD_CLOSE,
        Action.CARD_MERGE,
        Action.CARD_ACTIVATE,
        Action.USER_MANAGE,
        Action.API_KEY_MANAGE,
        Action.TERMINAL_MANAGE,
    ):
        assert not allowed(TILL, action), action
        assert not allowed(merchant("cashier"), action), action


def test_reissue_is_for_the_issuers_managers_only() -> None:
    """A reissue answers a new number and secret: nobody outside the issuer sees them."""
    assert allowed(merchant("full"), Action.CARD_REISSUE)
    assert allowed(merchant("merchant_admin"), Action.CARD_REISSUE)
    assert not allowed(SYSTEM, Action.CARD_REISSUE)
    assert not allowed(HOLDER, Action.CARD_REISSUE)  # holders never get new credentials here
    assert not allowed(merchant("merchant_admin", store_id="sto_a"), Action.CARD_REISSUE)


def test_holders_act_on_their_own_cards() -> None:
    for action in (Action.CARD_FREEZE, Action.CARD_UNFREEZE, Action.CARD_REPORT_LOST):
        assert authorize(HOLDER, action) == Scope(holder_id="c")
    with pytest.raises(PermissionDenied):
        authorize(HOLDER, Action.CARD_READ).merchant()  # no merchant view for holders


def test_scopes() -> None:
    assert authorize(SYSTEM, Action.LEDGER_VERIFY).is_all
    assert authorize(TILL, Action.STORE_READ) == Scope(merchant_id="mch_a", store_id="sto_a")
    assert authorize(TILL, Action.STORE_READ).store("sto_b") == "sto_a"
    assert authorize(merchant("full"), Action.STORE_READ).store("sto_b") == "sto_b"


def test_refusal_names_the_action() -> None:
    with pytest.raises(PermissionDenied, match="card.reissue"):
        authorize(TILL, Action.CARD_REISSUE)


@pytest.mark.parametrize(
    "action",
    [Action.BATCH_RUN_OFFLINE, Action.CARD_EXPIRE, Action.LEDGER_VERIFY, Action.LEDGER_EXPORT],
)
def test_the_cli_runs_as_system(action: Action) -> None:
    assert authorize(SYSTEM, action).is_all
    assert not allowed(merchant("full"), action)


def _platform(role: str) -> Principal:
    return Principal(PrincipalKind.PLATFORM, f"user:{role}", expand_role(role))


def test_console_jobs_of_issue_10_are_for_the_right_people() -> None:
    # a paid card is activated by finance (it records the payment), never by the issuer
    assert allowed(_platform("finance"), Action.CARD_FUND)
    assert not allowed(merchant("merchant_admin"), Action.CARD_FUND)
    assert not allowed(_platform("support"), Action.CARD_FUND)
    # password resets and disabling users are for admins, never tills or holders
    for action in (Action.USER_RESET_PASSWORD, Action.USER_DISABLE):
        assert allowed(merchant("merchant_admin"), action)
        assert allowed(_platform("admin"), action)
        assert not allowed(merchant("cashier"), action)
        assert not allowed(_platform("support"), action)
        assert not allowed(HOLDER, action)
    # everyone on the staff changes their own password; holders have no password
    assert allowed(TILL, Action.PASSWORD_CHANGE)
    assert allowed(_platform("risk"), Action.PASSWORD_CHANGE)
    assert not allowed(HOLDER, Action.PASSWORD_CHANGE)
    # only the applicant's admin resubmits its application
    assert allowed(merchant("merchant_admin"), Action.MERCHANT_RESUBMIT)
    assert not allowed(merchant("cashier"), Action.MERCHANT_RESUBMIT)
    assert not allowed(_platform("admin"), Action.MERCHANT_RESUBMIT)
