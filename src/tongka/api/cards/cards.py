"""``/v1/cards``: issue one card, read cards, their lifecycle actions and history.

A full card number or secret appears only in the response that issues (or reissues) the
card; everywhere else numbers are masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from tongka.api.cards.common import (
    AmountIn,
    BalanceOut,
    balance_out,
    money,
    new_router,
    require_currency,
)
from tongka.cards import numbers, service
from tongka.cards.keys import card_keys
from tongka.cards.models import Card
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep
from tongka.edge.no_store import SecretField
from tongka.edge.pagination import ListResponse, PageParamsDep, apply_page, make_list_response
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, ObjectId, RequestModel
from tongka.identity.principal import Principal
from tongka.money import MoneyModel
from tongka.policy import CARD_LIFECYCLE, Action, scope_of

router = new_router()


class CardOut(BaseModel):
    object: Literal["card"] = "card"
    id: str
    merchant_id: str
    product_id: str
    batch_id: str | None
    masked_number: str
    last4: str
    status: str
    currency: str
    face_value: MoneyModel
    balance: BalanceOut
    holder_id: str | None
    replaced_by_card_id: str | None
    activated_at: datetime | None
    expires_at: datetime | None
    frozen_by: str | None = Field(
        description="Who froze the card: holder, issuer or platform (only they or the "
        "platform may lift it); null unless frozen."
    )
    frozen_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, card: Card, balance: service.CardBalance) -> CardOut:
        return cls(
            id=card.id,
            merchant_id=card.merchant_id,
            product_id=card.product_id,
            batch_id=card.batch_id,
            masked_number=numbers.mask(card.bin_prefix, card.last4, card.number_length),
            last4=card.last4,
            status=card.status,
            currency=card.currency,
            face_value=money(card.face_value, card.currency),
            balance=balance_out(balance, card.currency),
            holder_id=card.holder_id,
            replaced_by_card_id=card.replaced_by_card_id,
            activated_at=card.activated_at,
            expires_at=card.expires_at,
            frozen_by=card.frozen_by_side,
            frozen_reason=card.frozen_reason,
            created_at=card.created_at,
        )


class IssuedCardOut(CardOut):
    """The only answer that carries the full number and the secret: keep it safe."""

    number: str = SecretField(description="The full card number (卡号); shown only here.")
    secret: str = SecretField(description="The card secret (卡密); shown only here.")

    @classmethod
    def of_issued(cls, issued: service.IssuedCard) -> IssuedCardOut:
        shown = CardOut.of(issued.card, service.CardBalance(paid=0, bonus=0)).model_dump()
        shown.pop("object")
        return cls(**shown, number=issued.number, secret=issued.secret)


class CardIssue(RequestModel):
    product_id: str = Field(pattern=ID_PATTERN, examples=["cpr_01j9z3k4"])
    face_value: AmountIn = Field(description="One of the product's face values.")


class ReasonRequest(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class MergeRequest(RequestModel):
    source_card_ids: list[str] = Field(min_length=1, max_length=50)


@router.post("/v1/cards", status_code=201, summary="Issue one card (number and secret shown once)")
async def issue_card(
    body: CardIssue,
    principal: Annotated[Principal, Authorized(Action.CARD_ISSUE)],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> IssuedCardOut:
    """Issued without a holder: bind it with ``POST /v1/cards/{id}/holder_bindings`` (the
    holder confirms a texted code), never by consumer id."""
    product = await service.get_product(session, body.product_id, merchant_id=principal.merchant_id)
    issued = await service.issue_card(
        session,
        body.product_id,
        merchant_id=principal.merchant_id,
        face_value=require_currency(body.face_value, product.currency, param="face_value"),
        keys=card_keys(settings),
        actor=principal.actor,
        now=clock.now(),
    )
    return IssuedCardOut.of_issued(issued)


async def _card_out(session: Any, card: Card) -> CardOut:
    return CardOut.of(card, await service.card_balance(session, card))


@router.get("/v1/cards", summary="List cards (search by last four digits, holder, product)")
async def list_cards(
    principal: Annotated[Principal, Authorized(Action.CARD_READ)],
    session: SessionDep,
    page: PageParamsDep,
    last4: Annotated[str | None, Query(pattern="^[0-9]{4}$")] = None,
    holder_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    product_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    batch_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    status: Annotated[service.CardStatus | None, Query()] = None,
) -> ListResponse[CardOut]:
    scope = scope_of(principal)
    statement = service.cards_query(
        merchant_id=scope.merchant_id,
        holder_id=scope.holder_id or holder_id,
        last4=last4,
        product_id=product_id,
        batch_id=batch_id,
        status=status,
    )
    statement = apply_page(statement, page, id_column=Card.id, created_column=Card.created_at)
    cards = list((await session.execute(statement)).scalars().all())
    balances = await service.card_balances(session, cards[: page.limit])
    return make_list_response(cards, page, lambda card: CardOut.of(card, balances[card.id]))


@router.get("/v1/cards/{card_id}", summary="One card with its balance")
async def get_card(
    card_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.CARD_READ)],
    session: SessionDep,
) -> CardOut:
    card = await service.get_card(session, card_id, **scope_of(principal).cards())
    return await _card_out(session, card)


@router.post("/v1/cards/{card_id}/activate", summary="Activate an issued card without money")
async def activate_card(
    card_id: ObjectId,
    body: ReasonRequest,
    principal: Annotated[Principal, Authorized(Action.CARD_ACTIVATE)],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> CardOut:
    """For cards given away empty (member cards); sold cards are activated by their sale."""
    card = await service.activate_card(
        session,
        card_id,
        merchant_id=principal.merchant_id,
        actor=principal.actor,
        now=clock.now(),
        reason=body.reason,
        timezone=settings.timezone,
    )
    return await _card_out(session, card)


class CardFundingIn(RequestModel):
    transfer_reference: str = Field(min_length=1, max_length=128, examples=["ICBC-20261202-001"])
    amount: AmountIn = Field(description="Must equal the card's face value exactly.")


@router.post(
    "/v1/cards/{card_id}/fund",
    summary="Finance: activate an issued card paid by bank transfer (its face value)",
)
async def fund_card(
    card_id: ObjectId,
    body: CardFundingIn,
    principal: Annotated[Principal, Authorized(Action.CARD_FUND)],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> CardOut:
    """The amount comes from the reserve bank account; a card is funded once."""
    card = await service.get_card(session, card_id, merchant_id=scope_of(principal).merchant())
    funded = await service.fund_card(
        session,
        card_id,
        transfer_reference=body.transfer_reference,
        amount=require_currency(body.amount, card.currency, param="amount"),
        actor=principal.actor,
        now=clock.now(),
        timezone=settings.timezone,
    )
    return await _card_out(session, funded)


LIFECYCLE_SUMMARIES = {
    "freeze": "Freeze a card (冻结): no value may leave it",
    "unfreeze": "Unfreeze a frozen card",
    "report_lost": "Report a card lost (挂失)",
    "close": "Close an empty card",
}


def _lifecycle_endpoint(action: str) -> Any:
    async def endpoint(
        card_id: ObjectId,
        body: ReasonRequest,
        principal: Principal,
        session: SessionDep,
        clock: ClockDep,
    ) -> CardOut:
        card = await service.apply_lifecycle_action(
            session,
            card_id,
            action,
            **scope_of(principal).cards(),
            principal=principal,
            now=clock.now(),
            reason=body.reason,
        )
        return await _card_out(session, card)

    # String annotations cannot name the closure's action: the policy is set here.
    endpoint.__annotations__["principal"] = Annotated[Principal, Authorized(CARD_LIFECYCLE[action])]
    endpoint.__name__ = f"{action}_card"
    return endpoint


for _action in service.LIFECYCLE_ACTIONS:
    router.add_api_route(
        f"/v1/cards/{{card_id}}/{_action}",
        _lifecycle_endpoint(_action),
        methods=["POST"],
        summary=LIFECYCLE_SUMMARIES[_action],
        response_model=CardOut,
    )


@router.post(
    "/v1/cards/{card_id}/reissue",
    status_code=201,
    summary="Reissue a lost card (补卡): new number and secret shown once, balance moved",
)
async def reissue_card(
    card_id: ObjectId,
    body: ReasonRequest,
    principal: Annotated[Principal, Authorized(Action.CARD_REISSUE)],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> IssuedCardOut:
    issued = await service.reissue_card(
        session,
        card_id,
        merchant_id=scope_of(principal).merchant(),
        keys=card_keys(settings),
        actor=principal.actor,
        now=clock.now(),
        reason=body.reason,
    )
    out = IssuedCardOut.of_issued(issued)
    balance = await service.card_balance(session, issued.card)
    out.balance = balance_out(balance, issued.card.currency)
    return out


@router.post("/v1/cards/{card_id}/merge", summary="Merge other cards into this one (并卡)")
async def merge_cards(
    card_id: ObjectId,
    body: MergeRequest,
    principal: Annotated[Principal, Authorized(Action.CARD_MERGE)],
    session: SessionDep,
    clock: ClockDep,
) -> CardOut:
    card = await service.merge_cards(
        session,
        card_id,
        body.source_card_ids,
        **scope_of(principal).cards(),
        actor=principal.actor,
        now=clock.now(),
    )
    return await _card_out(session, card)


class CardTransactionOut(BaseModel):
    object: Literal["card_transaction"] = "card_transaction"
    transfer_id: str
    sequence: int
    part: str
    amount: MoneyModel = Field(description="Signed: + onto the card, - off it.")
    currency: str
    code: str
    reference: str | None
    created_at: datetime


class CardTransactionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CardTransactionOut]
    has_more: bool
    next_after_sequence: int | None


@router.get("/v1/cards/{card_id}/transactions", summary="A card's transaction history")
async def card_transactions(
    card_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.CARD_READ)],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after_sequence: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> CardTransactionList:
    card = await service.get_card(session, card_id, **scope_of(principal).cards())
    page = await service.card_history(session, card, limit=limit, after_sequence=after_sequence)
    data = [
        CardTransactionOut(
            transfer_id=item.transfer.transfer_id,
            sequence=item.transfer.sequence,
            part=item.part,
            amount=money(item.amount, item.transfer.currency),
            currency=item.transfer.currency,
            code=item.transfer.code,
            reference=item.transfer.reference,
            created_at=item.transfer.created_at,
        )
        for item in page.data
    ]
    return CardTransactionList(
        data=data,
        has_more=page.has_more,
        next_after_sequence=data[-1].sequence if page.has_more and data else None,
    )
