"""The platform's settlement forms on 合同 (``/console/contracts``): write a merchant's next
contract version (fees per kind of movement, cycle, minimum payout, rolling reserve, the
settlement account), and hold (延迟结算) or release a merchant's payouts with a reason.

The rules are the domain's (``settlement.contracts``): a version applies from its date on,
never backwards; the account name must be the merchant's verified name. Fee rates are typed
in percent, as on the channels page (``0.3`` is 0.3 %).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Response
from sqlalchemy import select

from tongka.identity.models import Merchant
from tongka.money import Rounding
from tongka.policy import Action
from tongka.settlement import contracts
from tongka.settlement.contracts import BankAccount, ContractTerms
from tongka.settlement.errors import ContractInvalid
from tongka.settlement.fee_terms import FeeKind, FeeTerms, parse_rate
from tongka.settlement.models import MerchantContract, PayoutHold
from tongka.web.console import Console, FormDep, console_router, form_text, whole_number
from tongka.web.forms import (
    attempt_and_redirect,
    money_minor,
    percent_fraction,
    raise_page_errors,
    redirect_after,
    redirect_with_error,
    required_reason,
)
from tongka.web.i18n import N_
from tongka.web.lists import typed_date
from tongka.web.pages.listing import Allowed

router = console_router()
CONTRACTS_URL = "/console/contracts"
CURRENCY = "CNY"
CYCLES = (0, 1, 3, 7)
ACCOUNT_FIELDS = frozenset({"account_number"})


def _fees(form: Any) -> dict[FeeKind, FeeTerms]:
    """The kinds whose rate field is filled; an empty rate leaves the kind to the default."""
    fees = {}
    for kind in FeeKind:
        fraction = percent_fraction(form, f"fee_{kind.value}_percent")
        if fraction is None:
            continue
        fees[kind] = FeeTerms(
            rate=parse_rate(fraction, param=f"fee_{kind.value}_percent"),
            minimum=money_minor(form, f"fee_{kind.value}_minimum", CURRENCY, required=False) or 0,
            fixed=money_minor(form, f"fee_{kind.value}_fixed", CURRENCY, required=False) or 0,
            rounding=Rounding.HALF_UP,
        )
    return fees


def _terms(form: Any) -> ContractTerms:
    effective = typed_date(form_text(form, "effective_date"))
    if effective is None:
        raise ContractInvalid("Choose the date the version applies from.", param="effective_date")
    cycle = whole_number(form, "cycle_days", high=7)
    if cycle not in CYCLES:
        raise ContractInvalid("The cycle is T+0, T+1, T+3 or T+7.", param="cycle_days")
    return ContractTerms(
        merchant_id=form_text(form, "merchant_id"),
        effective_date=effective,
        bank_account=BankAccount(
            bank_name=form_text(form, "bank_name"),
            account_name=form_text(form, "account_name"),
            account_number=form_text(form, "account_number").replace(" ", ""),
        ),
        fees=_fees(form),
        currency=CURRENCY,
        cycle_days=cycle,
        minimum_payout=money_minor(form, "minimum_payout", CURRENCY, required=False) or 0,
        reserve_percent=percent_fraction(form, "reserve_percent") or Decimal(0),
        reserve_days=whole_number(form, "reserve_days", high=180),
    )


@router.post("/contracts")
async def write_contract(
    console: Annotated[Console, Allowed(Action.CONTRACT_MANAGE)], form: FormDep
) -> Response:
    """The next version of the chosen merchant's contract (the account number is sealed)."""

    async def work() -> MerchantContract:
        return await contracts.create_contract(
            console.session,
            _terms(form),
            settings=console.settings,
            actor=console.signed_in.actor,
            now=console.now,
        )

    _, exc = await console.attempt_error(work)
    if exc is not None:  # typed values come back, the account number never does
        raise_page_errors(exc, form)
        return redirect_with_error(console, CONTRACTS_URL, exc, form, secret=ACCOUNT_FIELDS)
    return redirect_after(console, CONTRACTS_URL, success=N_("The contract version is saved."))


async def _known_merchant(console: Console, merchant_id: str) -> str:
    if not merchant_id or await console.session.get(Merchant, merchant_id) is None:
        raise ContractInvalid("Choose a merchant.", param="merchant_id")
    return merchant_id


@router.post("/payout_holds")
async def hold_payouts(
    console: Annotated[Console, Allowed(Action.PAYOUT_HOLD)], form: FormDep
) -> Response:
    """延迟结算 at once: batches still close, their payouts wait (carried) until released."""

    async def work() -> PayoutHold:
        merchant_id = await _known_merchant(console, form_text(form, "merchant_id"))
        return await contracts.set_payout_hold(
            console.session,
            merchant_id,
            is_held=True,
            reason=required_reason(form),
            actor=console.signed_in.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=CONTRACTS_URL, success=N_("The payouts are held.")
    )


@router.post("/payout_holds/{merchant_id}/release")
async def release_payouts(
    merchant_id: str, console: Annotated[Console, Allowed(Action.PAYOUT_HOLD)], form: FormDep
) -> Response:
    async def work() -> PayoutHold:
        return await contracts.set_payout_hold(
            console.session,
            await _known_merchant(console, merchant_id),
            is_held=False,
            reason=required_reason(form),
            actor=console.signed_in.actor,
            now=console.now,
        )

    return await attempt_and_redirect(
        console, work, form, success_url=CONTRACTS_URL, success=N_("The payouts are released.")
    )


async def held_payouts(console: Console) -> list[PayoutHold]:
    """The merchants whose payouts are held now, for the contracts page."""
    statement = select(PayoutHold).where(PayoutHold.is_held.is_(True))
    merchant_id = console.signed_in.merchant_id
    if merchant_id is not None:
        statement = statement.where(PayoutHold.merchant_id == merchant_id)
    return list((await console.session.scalars(statement.order_by(PayoutHold.set_at))).all())
