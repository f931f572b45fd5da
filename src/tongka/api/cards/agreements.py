"""``/v1/acceptance_agreements``: acceptance agreements (受理协议) between merchants.

An issuer proposes that another merchant accept its cards; that merchant (the acceptor)
approves or rejects; either party may revoke. Both parties see the agreement (anyone else:
404, exactly like an unknown id); the platform sees all of them. A product may name another
merchant, or its stores, only while an approved agreement exists (see
``tongka.cards.acceptance``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from tongka.api.cards.common import new_router
from tongka.cards import service
from tongka.cards.models import CardAcceptanceAgreement
from tongka.edge.deps import ClockDep, SessionDep
from tongka.edge.pagination import ListResponse, PageParamsDep, fetch_page
from tongka.edge.policy import Authorized
from tongka.edge.schemas import ID_PATTERN, ObjectId, RequestModel
from tongka.identity.principal import Principal
from tongka.policy import Action, scope_of

router = new_router()


class AgreementPropose(RequestModel):
    acceptor_merchant_id: str = Field(
        pattern=ID_PATTERN,
        examples=["mch_01j9z3k4"],
        description="The merchant asked to accept the caller's cards at its stores.",
    )
    note: str | None = Field(default=None, max_length=1000)


class AgreementDecision(RequestModel):
    note: str | None = Field(default=None, max_length=1000)


class AgreementOut(BaseModel):
    object: Literal["acceptance_agreement"] = "acceptance_agreement"
    id: str
    issuer_merchant_id: str
    acceptor_merchant_id: str
    status: service.AgreementStatus
    note: str | None
    decision_note: str | None
    decided_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, agreement: CardAcceptanceAgreement) -> AgreementOut:
        return cls(
            id=agreement.id,
            issuer_merchant_id=agreement.issuer_merchant_id,
            acceptor_merchant_id=agreement.acceptor_merchant_id,
            status=service.AgreementStatus(agreement.status),
            note=agreement.note,
            decision_note=agreement.decision_note,
            decided_at=agreement.decided_at,
            revoked_at=agreement.revoked_at,
            created_at=agreement.created_at,
        )


@router.post(
    "/v1/acceptance_agreements",
    status_code=201,
    summary="Propose that another merchant accept your cards (受理协议)",
)
async def propose_agreement(
    body: AgreementPropose,
    principal: Annotated[Principal, Authorized(Action.AGREEMENT_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> AgreementOut:
    agreement = await service.propose_agreement(
        session,
        str(principal.merchant_id),
        body.acceptor_merchant_id,
        note=body.note,
        actor=principal.actor,
        now=clock.now(),
    )
    return AgreementOut.of(agreement)


@router.get("/v1/acceptance_agreements", summary="Agreements you are a party to")
async def list_agreements(
    principal: Annotated[Principal, Authorized(Action.AGREEMENT_READ)],
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[service.AgreementStatus | None, Query()] = None,
) -> ListResponse[AgreementOut]:
    statement = service.agreements_query(
        merchant_id=scope_of(principal).merchant(), status=status.value if status else None
    )
    return await fetch_page(session, statement, page, CardAcceptanceAgreement, AgreementOut.of)


@router.get("/v1/acceptance_agreements/{agreement_id}", summary="One acceptance agreement")
async def get_agreement(
    agreement_id: ObjectId,
    principal: Annotated[Principal, Authorized(Action.AGREEMENT_READ)],
    session: SessionDep,
) -> AgreementOut:
    agreement = await service.get_agreement(
        session, agreement_id, merchant_id=scope_of(principal).merchant()
    )
    return AgreementOut.of(agreement)


async def _decide(
    agreement_id: str,
    body: AgreementDecision,
    principal: Principal,
    session: SessionDep,
    clock: ClockDep,
    *,
    is_approved: bool,
) -> AgreementOut:
    agreement = await service.decide_agreement(
        session,
        agreement_id,
        is_approved=is_approved,
        merchant_id=str(principal.merchant_id),
        note=body.note,
        actor=principal.actor,
        now=clock.now(),
    )
    return AgreementOut.of(agreement)


@router.post(
    "/v1/acceptance_agreements/{agreement_id}/approve",
    summary="Acceptor: approve a proposal (your stores will accept the issuer's cards)",
)
async def approve_agreement(
    agreement_id: ObjectId,
    body: AgreementDecision,
    principal: Annotated[Principal, Authorized(Action.AGREEMENT_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> AgreementOut:
    return await _decide(agreement_id, body, principal, session, clock, is_approved=True)


@router.post(
    "/v1/acceptance_agreements/{agreement_id}/reject", summary="Acceptor: reject a proposal"
)
async def reject_agreement(
    agreement_id: ObjectId,
    body: AgreementDecision,
    principal: Annotated[Principal, Authorized(Action.AGREEMENT_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> AgreementOut:
    return await _decide(agreement_id, body, principal, session, clock, is_approved=False)


@router.post(
    "/v1/acceptance_agreements/{agreement_id}/revoke",
    summary="Either party: end the agreement (acceptance stops at once)",
)
async def revoke_agreement(
    agreement_id: ObjectId,
    body: AgreementDecision,
    principal: Annotated[Principal, Authorized(Action.AGREEMENT_MANAGE)],
    session: SessionDep,
    clock: ClockDep,
) -> AgreementOut:
    agreement = await service.revoke_agreement(
        session,
        agreement_id,
        merchant_id=str(principal.merchant_id),
        actor=principal.actor,
        now=clock.now(),
        note=body.note,
    )
    return AgreementOut.of(agreement)
