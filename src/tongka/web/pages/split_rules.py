"""分账规则 (``/console/split_rules``): the split rules between an issuer and an acceptor —
per pair the version in force today and every version; the platform's admins and finance
write a pair's next version with the form, a merchant reads the pairs it is in.

The rules are the domain's (``settlement.split_rules``, ``settlement.splits``): a version
applies from its date on (today or later), the percents add up to 100 % unless the
remainder goes to a named party, what a cap cuts goes to the excess party. Percents are
typed as people say them (``70`` is 70 %), fixed parts and caps in yuan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Response

from tongka.clock import business_date
from tongka.errors import InvalidRequest
from tongka.identity.errors import ObjectNotFound
from tongka.identity.models import Merchant
from tongka.policy import Action, scope_of
from tongka.settlement import split_rules
from tongka.settlement.models import SplitRuleRow
from tongka.settlement.split_rules import PARTIES
from tongka.settlement.splits import Remainder
from tongka.web import pickers
from tongka.web.console import Console, FormDep, console_router, form_text
from tongka.web.forms import attempt_and_redirect, money_minor, percent_fraction
from tongka.web.i18n import N_
from tongka.web.lists import typed_date
from tongka.web.names import load_names
from tongka.web.nav import NavItem, register_nav_item
from tongka.web.pages.listing import Allowed

router = console_router()
PAGE = "/console/split_rules"
CURRENCY = "CNY"
HUNDRED = Decimal(100)
register_nav_item(
    NavItem("split_rules", N_("Split rules"), PAGE, Action.CONTRACT_READ),
    before="settlement_runs",
)


@dataclass(frozen=True)
class ShareView:
    party: str
    percent: str | None  # as people read it: "70" for 70 %
    fixed: int
    cap_percent: str | None
    cap: int | None


@dataclass(frozen=True)
class VersionView:
    row: SplitRuleRow
    shares: list[ShareView]
    is_in_force: bool


@dataclass(frozen=True)
class PairView:
    issuer_id: str
    acceptor_id: str
    in_force: VersionView | None
    versions: list[VersionView]  # newest first


def _percent_text(fraction: str | None) -> str | None:
    if fraction is None:
        return None
    text = format((Decimal(fraction) * HUNDRED).normalize(), "f")
    return None if text == "0" else text


def _shares(rule: dict[str, Any]) -> list[ShareView]:
    return [
        ShareView(
            party=share["party"],
            percent=_percent_text(share.get("percent")),
            fixed=share.get("fixed") or 0,
            cap_percent=_percent_text(share.get("cap_percent")),
            cap=share.get("cap"),
        )
        for share in rule.get("shares", [])
    ]


def pairs_of(rows: list[SplitRuleRow], today: date) -> list[PairView]:
    """Rows grouped per (issuer, acceptor): the version in force ``today`` (the latest that
    started by then), and every version, newest first."""
    grouped: dict[tuple[str, str], list[SplitRuleRow]] = {}
    for row in rows:
        grouped.setdefault((row.issuer_merchant_id, row.acceptor_merchant_id), []).append(row)
    pairs = []
    for (issuer_id, acceptor_id), versions in sorted(grouped.items()):
        started = [row for row in versions if row.effective_date <= today]
        current = max(started, key=lambda row: (row.effective_date, row.version), default=None)
        views = [
            VersionView(row, _shares(row.rule), row is current)
            for row in sorted(versions, key=lambda row: row.version, reverse=True)
        ]
        in_force = next((view for view in views if view.is_in_force), None)
        pairs.append(PairView(issuer_id, acceptor_id, in_force, views))
    return pairs


@router.get("/split_rules")
async def split_rules_page(
    console: Annotated[Console, Allowed(Action.CONTRACT_READ)],
) -> Response:
    rows = await split_rules.list_rules(console.session, scope_of(console.signed_in).merchant())
    merchant_ids = {row.issuer_merchant_id for row in rows} | {
        row.acceptor_merchant_id for row in rows
    }
    return console.render(
        "split_rules.html",
        pairs=pairs_of(rows, business_date(console.now, console.timezone)),
        names=await load_names(console.session, merchants=sorted(merchant_ids)),
        merchant_choices=await pickers.preloaded(console, "merchants", None),
        parties=PARTIES,
        remainders=[mode.value for mode in Remainder],
        page_url=PAGE,
    )


def _share(form: Any, party: str) -> dict[str, Any] | None:
    """The party's share as the rule's JSON, or ``None`` when none of its fields is filled."""
    percent = percent_fraction(form, f"{party}_percent")
    fixed = money_minor(form, f"{party}_fixed", CURRENCY, required=False)
    cap_percent = percent_fraction(form, f"{party}_cap_percent")
    cap = money_minor(form, f"{party}_cap", CURRENCY, required=False)
    if percent is None and fixed is None and cap_percent is None and cap is None:
        return None
    return {
        "party": party,
        "percent": str(percent or Decimal(0)),
        "fixed": fixed or 0,
        "cap_percent": None if cap_percent is None else str(cap_percent),
        "cap": cap,
    }


def rule_of_form(form: Any) -> dict[str, Any]:
    """The rule's JSON (``settlement.split_rules``) from the form's fields."""
    shares = [share for party in PARTIES if (share := _share(form, party)) is not None]
    return {
        "shares": shares,
        "remainder": form_text(form, "remainder") or Remainder.LARGEST_REMAINDER.value,
        "remainder_party": form_text(form, "remainder_party") or None,
        "excess_party": form_text(form, "excess_party") or None,
    }


MERCHANT_FIELDS = ("issuer_merchant_id", "acceptor_merchant_id")


def _required(name: str) -> InvalidRequest:
    return InvalidRequest(
        f"{name} is required.", code="field_required", param=name, details={"field": name}
    )


async def _merchant(console: Console, form: Any, name: str) -> str:
    merchant_id = form_text(form, name)
    if not merchant_id:
        raise _required(name)
    if await console.session.get(Merchant, merchant_id) is None:
        raise ObjectNotFound("No such merchant.", param=name, details={"object": "merchant"})
    return merchant_id


@router.post("/split_rules")
async def write_split_rule(
    console: Annotated[Console, Allowed(Action.CONTRACT_MANAGE)], form: FormDep
) -> Response:
    """The pair's next version from its date (a repeat of the latest changes nothing)."""

    async def work() -> SplitRuleRow:
        pair = {name: await _merchant(console, form, name) for name in MERCHANT_FIELDS}
        effective = typed_date(form_text(form, "effective_date"))
        if effective is None:
            raise _required("effective_date")
        return await split_rules.set_rule(
            console.session,
            pair["issuer_merchant_id"],
            pair["acceptor_merchant_id"],
            rule_of_form(form),
            effective_date=effective,
            today=business_date(console.now, console.timezone),
            actor=console.signed_in.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=PAGE, success=N_("The split rule version is saved.")
    )
