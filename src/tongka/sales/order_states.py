"""An order's states, kinds and the one way its status changes (``move``).

::

    created ─→ awaiting_payment ─→ paid ─→ fulfilled ─→ partly_refunded ─→ refunded
       │              │              │                                     ↑
       └──────────────┴─→ cancelled  └─→ refunded (fulfilment refused) ────┘
                      └─→ expired

``move`` is one conditional ``UPDATE … WHERE id = :id AND status IN (:from)``: of two
racing transitions (a late payment and the expiry job, a cancel and a notification) one
wins and the other sees ``False``. The winner appends the history row and records the
``order.<event>`` event (webhooks) in the same transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tongka.db.base import UTCDateTime
from tongka.db.statements import DriverStatement, execute_count
from tongka.errors import amount_detail
from tongka.events import record_event
from tongka.sales.models import Order


class OrderStatus(enum.StrEnum):
    CREATED = "created"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    PARTLY_REFUNDED = "partly_refunded"


class OrderKind(enum.StrEnum):
    PURCHASE = "purchase"  # a consumer buys a virtual card of a product
    TOP_UP = "top_up"  # a holder (or a till) loads a card in use
    TILL_SALE = "till_sale"  # a merchant sells an issued card at its till
    BATCH = "batch"  # an enterprise buys a batch of cards


UNPAID = (OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT)
REFUNDABLE = (OrderStatus.FULFILLED, OrderStatus.PARTLY_REFUNDED)


def order_data(order: Order) -> dict[str, Any]:
    """What every ``order.*`` event carries (no secret, no full card number)."""
    return {
        "kind": order.kind,
        "status": order.status,
        "product_id": order.product_id,
        "card_id": order.card_id,
        "batch_id": order.batch_id,
        "amount": amount_detail(order.amount_minor, order.currency),
        "refunded": amount_detail(order.refunded_minor, order.currency),
        "payment_id": order.payment_id,
        "channel": order.channel,
    }


_HISTORY_COLUMNS = (
    "order_id",
    "from_status",
    "to_status",
    "event_type",
    "actor",
    "note",
    "data",
    "created_at",
)
# two history rows per paid top-up and two per order made: one hand-written INSERT each
# (compiled once) instead of an ORM object and its flush; ids still follow the calls
_INSERT_HISTORY = DriverStatement(
    text(
        f"INSERT INTO order_history ({', '.join(_HISTORY_COLUMNS)})"
        f" VALUES ({', '.join(':' + column for column in _HISTORY_COLUMNS)})"
    ).bindparams(bindparam("data", type_=JSON()), bindparam("created_at", type_=UTCDateTime()))
)


async def _append(
    session: AsyncSession,
    order: Order,
    *,
    from_status: str | None,
    event: str,
    actor: str,
    now: datetime,
    note: str | None,
    data: dict[str, Any] | None,
) -> None:
    await session.flush()  # what the caller added goes first (as when this was an ORM add)
    await execute_count(
        session,
        _INSERT_HISTORY,
        {
            "order_id": order.id,
            "from_status": from_status,
            "to_status": order.status,
            "event_type": f"order.{event}",
            "actor": actor,
            "note": note[:500] if note else None,
            "data": data or {},
            "created_at": now,
        },
    )
    await record_event(
        session,
        type=f"order.{event}",
        object_type="order",
        object_id=order.id,
        actor=actor,
        now=now,
        merchant_id=order.merchant_id,
        data=order_data(order) | {"from": from_status, "note": note} | (data or {}),
    )


async def record_created(session: AsyncSession, order: Order, *, actor: str, now: datetime) -> None:
    await _append(
        session,
        order,
        from_status=None,
        event="created",
        actor=actor,
        now=now,
        note=None,
        data=None,
    )


async def note(
    session: AsyncSession,
    order: Order,
    event: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """A history entry (and event) that changes no status: a late payment refunded."""
    await _append(
        session,
        order,
        from_status=order.status,
        event=event,
        actor=actor,
        now=now,
        note=note,
        data=data,
    )


def mark_written(order: Order, **values: Any) -> None:
    """Record on the held ``order`` what a Core ``UPDATE`` of this transaction just wrote
    to its row, as loaded values (nothing for the ORM to flush, nothing to read back)."""
    for name, value in values.items():
        set_committed_value(order, name, value)


async def reload(session: AsyncSession, order_id: str, *, lock: bool = False) -> Order | None:
    statement = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if lock:
        statement = statement.with_for_update()
    found: Order | None = await session.scalar(statement)
    return found


async def move(
    session: AsyncSession,
    order: Order,
    sources: Iterable[OrderStatus],
    target: OrderStatus,
    *,
    event: str,
    actor: str,
    now: datetime,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Move ``order`` from one of ``sources`` to ``target`` (setting ``values`` too);
    False, changing nothing, when its status is no longer one of ``sources``."""
    allowed = [status.value for status in sources]
    await session.flush()
    changed = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status.in_(allowed))
        .values(status=target.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    before = order.status
    if changed.rowcount != 1 or order not in session:  # type: ignore[attr-defined]
        fresh = await reload(session, order.id)  # what the row says now
        assert fresh is not None
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        order = fresh
    else:
        # the row is what the held order says plus what this statement set: no read back
        # (the caller's order is fresh: read in this transaction and flushed above)
        mark_written(order, status=target.value, updated_at=now, **values)
    await _append(
        session,
        order,
        from_status=before if before in allowed else None,
        event=event,
        actor=actor,
        now=now,
        note=note,
        data=data,
    )
    return True
