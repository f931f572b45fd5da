"""Turning a recorded event into deliveries, inside the transaction that records it.

Why at record time rather than by a worker scanning the outbox: the deliveries then commit
or roll back with the event itself, and no scan can miss an event whose transaction committed
out of id order. The cost is one indexed lookup of the merchant's enabled endpoints per
merchant and transaction: a paid top-up records five events of one merchant, and they share
the lookup (``enabled_endpoints``). Events without a merchant (platform-internal) are not
delivered.

The memo of a merchant's enabled endpoints lives in the session's ``info``, tagged with the
session's root transaction: a later transaction (the next request on a reused session, a
worker's next batch) never sees it. Within the transaction it is dropped when

* the session flushes a ``WebhookEndpoint`` (created, disabled, its secret rotated) or runs
  an ORM ``UPDATE``/``DELETE`` on the table, so the transaction's own changes are seen;
* any rollback happens, a savepoint's included (what was read inside it may be undone).

So all events of one transaction see one list of endpoints — the one its first event read —
where each event used to see the endpoints committed by others at its own statement (READ
COMMITTED): an endpoint another transaction enables meanwhile starts with the next
transaction instead of halfway through this one. SQL written by hand (``text``) against
``webhook_endpoints`` is not noticed: use the ORM (``webhooks.service``) to change endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from tongka.ids import new_id
from tongka.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from tongka.events.models import Event

_MEMO = "webhooks.enabled_endpoints"


@dataclass(frozen=True)
class EnabledEndpoint:
    """What fan-out needs of an endpoint: which events it takes."""

    id: str
    enabled_events: tuple[str, ...]

    def accepts(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events


def _memo(session: Session) -> dict[str, list[EnabledEndpoint]]:
    """This transaction's memo (a new one when the root transaction changed)."""
    root = session.get_transaction()
    held: tuple[SessionTransaction | None, dict[str, list[EnabledEndpoint]]] | None = (
        session.info.get(_MEMO)
    )
    if held is None or held[0] is not root or root is None:
        held = (root, {})
        session.info[_MEMO] = held
    return held[1]


def forget_endpoints(session: Session) -> None:
    """Drop the memo: the next event reads the endpoints again."""
    session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_flush")
def _endpoints_flushed(session: Session, _context: Any) -> None:
    if _MEMO not in session.info:
        return
    for changed in (session.new, session.dirty, session.deleted):
        if any(isinstance(instance, WebhookEndpoint) for instance in changed):
            forget_endpoints(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _endpoints_written(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and _MEMO in state.session.info:
        mapper = state.bind_mapper
        if mapper is not None and mapper.class_ is WebhookEndpoint:
            forget_endpoints(state.session)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _previous: SessionTransaction) -> None:
    forget_endpoints(session)


async def enabled_endpoints(session: AsyncSession, merchant_id: str) -> list[EnabledEndpoint]:
    """The merchant's enabled endpoints, read once per transaction (see the module)."""
    memo = _memo(session.sync_session)
    found = memo.get(merchant_id)
    if found is None:
        rows = await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.enabled_events).where(
                WebhookEndpoint.merchant_id == merchant_id,
                WebhookEndpoint.status == EndpointStatus.ENABLED,
            )
        )
        found = [EnabledEndpoint(row.id, tuple(row.enabled_events or ())) for row in rows]
        memo = _memo(session.sync_session)  # a rollback meanwhile started a new one
        memo[merchant_id] = found
    return found


async def enqueue_deliveries(session: AsyncSession, event: Event) -> int:
    """Add one pending delivery per enabled endpoint of the event's merchant that wants it."""
    if event.merchant_id is None:
        return 0
    endpoints = await enabled_endpoints(session, event.merchant_id)
    wanted = [endpoint for endpoint in endpoints if endpoint.accepts(event.type)]
    for endpoint in wanted:
        session.add(
            WebhookDelivery(
                id=new_id("whd"),
                event_id=event.id,
                endpoint_id=endpoint.id,
                merchant_id=event.merchant_id,
                event_type=event.type,
                status=DeliveryStatus.PENDING,
                attempt_count=0,
                next_attempt_at=event.created_at,
                created_at=event.created_at,
            )
        )
    return len(wanted)
