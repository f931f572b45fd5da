"""``Idempotency-Key``: a retried POST returns the first response instead of acting twice.

How a router opts in (one line)::

    router = APIRouter(route_class=IdempotentRoute)

Every POST route of that router then requires the header and is protected; other methods are
untouched. The handler must do its work in the request's ``SessionDep`` session.

How it works, and why it is safe under crashes and concurrency:

1. Before the handler runs — after authentication and every other dependency — a
   dependency inserts a row (caller, key, request hash) into ``idempotency_records`` *in the
   request's own transaction* (``INSERT ... ON CONFLICT DO NOTHING``).
2. After the handler returns, the route class seals the response (status, content type,
   body; AES-GCM, since a response may carry a secret shown once) into that row — still
   before ``SessionDep`` commits. Effect and record commit or roll back together.
3. A retry finds the committed row: same request -> the stored response again with
   ``Idempotent-Replayed: true``; a different request (method, path or body hash) -> 409
   ``idempotency_key_reused``.
4. A concurrent twin blocks on the unique constraint (PostgreSQL waits for the first
   transaction; SQLite's single writer queues it), then sees the committed row and replays:
   **the twin waits and replays**; it never runs the handler a second time. Under snapshot
   isolation (REPEATABLE READ / SERIALIZABLE / CockroachDB) the database cannot do that and
   the twin gets 409 ``idempotency_request_in_progress`` instead — still one effect.

What is not stored: failures raised as exceptions (4xx domain and validation errors, 5xx)
roll the whole transaction back, the key included — they changed nothing, so a retry simply
runs again. A 5xx *returned* by a handler is not stored either. Keys are scoped per caller
(``tongka.edge.callers``) and kept 24 hours; ``purge_expired`` (a worker job) deletes older
rows, and an expired row is reused as if absent.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from tongka.api.errors import HeaderErrors, register_header_errors
from tongka.api.models import IdempotencyRecord
from tongka.clock import Clock, ensure_utc
from tongka.config import Settings
from tongka.crypto import SecretBox
from tongka.db import Database, is_retryable_error
from tongka.db.statements import (
    AnyUnitOfWork,
    DriverStatement,
    execute_count,
    fetch_all,
    fetch_one,
)
from tongka.edge.callers import caller_identity
from tongka.edge.deps import ClockDep, SessionDep, SettingsDep, UnitOfWorkRoute
from tongka.errors import Conflict

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
PURGE_BATCH = 1000


register_header_errors(
    HeaderErrors(
        header=HEADER,
        missing_code="idempotency_key_missing",
        missing_message=f"This request needs an {HEADER} header.",
        invalid_code="idempotency_key_invalid",
        invalid_message=f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
    )
)


class IdempotentReplay(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the dependency to answer with a stored response instead of the handler's."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


@dataclass
class _Reservation:
    session: AsyncSession
    record_id: int
    box: SecretBox
    context: str


def _box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_key_bytes(), "idempotency-responses")


RESERVE = DriverStatement(
    text(
        "INSERT INTO idempotency_records (caller, key, request_hash, method, path, created_at)"
        " VALUES (:caller, :key, :request_hash, :method, :path, :created_at)"
        " ON CONFLICT DO NOTHING RETURNING id"
    )
)


# The same for many requests at once (the redemption lane's batch; PostgreSQL), and the
# lane's completion of the rows it reserved: the sealed responses in one statement.
RESERVE_MANY = DriverStatement(
    text(
        "INSERT INTO idempotency_records (caller, key, request_hash, method, path, created_at)"
        " SELECT u.caller, u.key, u.request_hash, u.method, u.path, :created_at"
        " FROM unnest(CAST(:callers AS VARCHAR[]), CAST(:keys AS VARCHAR[]),"
        " CAST(:request_hashes AS VARCHAR[]), CAST(:methods AS VARCHAR[]),"
        " CAST(:paths AS VARCHAR[])) AS u(caller, key, request_hash, method, path)"
        " ON CONFLICT DO NOTHING RETURNING id, caller, key"
    )
)
COMPLETE_MANY = DriverStatement(
    text(
        "UPDATE idempotency_records AS r"
        " SET status_code = u.status_code, content_type = u.content_type,"
        " sealed_body = u.sealed_body"
        " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:status_codes AS INTEGER[]),"
        " CAST(:content_types AS VARCHAR[]), CAST(:sealed_bodies AS BYTEA[]))"
        " AS u(id, status_code, content_type, sealed_body)"
        " WHERE r.id = u.id"
    )
)
FORGET_MANY = DriverStatement(text("DELETE FROM idempotency_records WHERE id = ANY(:ids)"))


async def reserve_many(
    unit: AnyUnitOfWork, requests: Sequence[tuple[Request, str]], *, now: datetime
) -> dict[tuple[str, str], int]:
    """Reserve ``(request, key)`` pairs at once; a key not reserved (a replay, a twin in
    flight, an expired row to reuse) is answered by ``require_idempotency_key`` as ever.
    In (caller, key) order, so two batches never wait for each other's rows in turn."""
    rows = sorted(
        [
            (caller_identity(request), key, await _request_hash(request), request)
            for request, key in requests
        ],
        key=lambda row: (row[0], row[1]),
    )
    if not rows:
        return {}
    found = await fetch_all(
        unit,
        RESERVE_MANY,
        {
            "callers": [row[0] for row in rows],
            "keys": [row[1] for row in rows],
            "request_hashes": [row[2] for row in rows],
            "methods": [row[3].method for row in rows],
            "paths": [row[3].url.path[:500] for row in rows],
            "created_at": now,
        },
    )
    return {(row[1], row[2]): row[0] for row in found}


async def complete_many(
    unit: AnyUnitOfWork,
    settings: Settings,
    responses: Sequence[tuple[int, str, str, Response]],
    forget: Sequence[int],
) -> None:
    """Seal each ``(record id, caller, key, response)`` into its reserved row, as
    ``_complete`` does for one, and delete the rows in ``forget`` (reserved, then left to
    the usual path)."""
    box = _box(settings)
    if responses:
        await execute_count(
            unit,
            COMPLETE_MANY,
            {
                "ids": [record_id for record_id, _, _, _ in responses],
                "status_codes": [response.status_code for _, _, _, response in responses],
                "content_types": [
                    response.headers.get("content-type") for _, _, _, response in responses
                ],
                "sealed_bodies": [
                    box.seal(bytes(response.body), context=f"{caller}\n{key}")
                    for _, caller, key, response in responses
                ],
            },
        )
    if forget:
        await execute_count(unit, FORGET_MANY, {"ids": list(forget)})


async def _request_hash(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b"\n")
    digest.update(request.url.path.encode() + b"?" + request.url.query.encode() + b"\n")
    digest.update(await request.body())
    return digest.hexdigest()


def _in_progress() -> Conflict:
    return Conflict(
        "A request with this key is still in progress; retry shortly.",
        code="idempotency_request_in_progress",
        param=HEADER,
    )


async def _insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert the reservation and return its id (``RETURNING``: no second round trip);
    None when the (caller, key) row already exists (committed).

    Under snapshot isolation (REPEATABLE READ, SERIALIZABLE, CockroachDB) the database
    refuses to wait-and-skip a row committed after our snapshot and aborts with a
    serialization failure instead; the twin is then answered 409 ``in_progress``.
    """
    try:
        if session.bind.dialect.name == "postgresql":
            # compiled once: SQLAlchemy's statement cache does not keep an
            # ``insert ... on_conflict_do_nothing``, which cost a compilation per request
            row = await fetch_one(session, RESERVE, values)
            record_id: int | None = None if row is None else int(row[0])
        else:
            record_id = await session.scalar(
                sqlite_insert(IdempotencyRecord)
                .values(**values)
                .on_conflict_do_nothing()
                .returning(IdempotencyRecord.id)
            )
    except DBAPIError as exc:
        if is_retryable_error(exc):
            raise _in_progress() from exc
        raise
    return record_id


async def _reuse_expired(
    session: AsyncSession, record: IdempotencyRecord, values: dict[str, Any], now: datetime
) -> bool:
    """Take over a row older than the retention period, as if the key were new."""
    result = await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record.id, IdempotencyRecord.created_at < now - RETENTION)
        .values(**values, status_code=None, content_type=None, sealed_body=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _replay(record: IdempotencyRecord, box: SecretBox, context: str) -> Response:
    body = box.open(record.sealed_body or b"", context=context)
    return Response(
        content=body,
        status_code=record.status_code or 200,
        media_type=record.content_type,
        # a stored answer may carry a secret shown once: never cache it on the way
        headers={REPLAYED_HEADER: "true", "Cache-Control": "no-store"},
    )


async def require_idempotency_key(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    idempotency_key: Annotated[
        str,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            description=(
                "Unique key for this operation (at most 255 characters, e.g. a UUID). "
                "A retry with the same key returns the first response; kept 24 hours."
            ),
        ),
    ],
) -> None:
    """Reserve the key in the request's transaction, or answer from the stored response.

    A missing or over-long header fails validation before this runs; ``tongka.api.errors``
    answers it with 400 ``idempotency_key_missing`` / ``idempotency_key_invalid``.
    """
    key = idempotency_key
    now = clock.now()
    caller = caller_identity(request)
    values = {
        "caller": caller,
        "key": key,
        "request_hash": await _request_hash(request),
        "method": request.method,
        "path": request.url.path[:500],
        "created_at": now,
    }
    box, context = _box(settings), f"{caller}\n{key}"
    select_record = select(IdempotencyRecord).where(
        IdempotencyRecord.caller == caller, IdempotencyRecord.key == key
    )
    # A few rounds: in between, the holder may have rolled back, deleted its row (5xx) or
    # taken over an expired one; each round looks at the row afresh.
    for _ in range(3):
        record_id = await _insert_if_absent(session, values)
        if record_id is not None:
            request.state.idempotency = _Reservation(session, record_id, box, context)
            return
        existing = (
            await session.scalars(select_record.execution_options(populate_existing=True))
        ).one_or_none()
        if existing is None:
            continue
        if ensure_utc(existing.created_at) < now - RETENTION:
            if await _reuse_expired(session, existing, values, now):
                request.state.idempotency = _Reservation(session, existing.id, box, context)
                return
            continue
        if existing.request_hash != values["request_hash"]:
            raise Conflict(
                f"This {HEADER} was already used for a different request.",
                code="idempotency_key_reused",
                param=HEADER,
            )
        if existing.status_code is None:
            raise _in_progress()
        raise IdempotentReplay(_replay(existing, box, context))
    raise _in_progress()


async def _complete(reservation: _Reservation, response: Response) -> None:
    """Seal the response into the reserved row; a 5xx is forgotten so a retry runs again."""
    session = reservation.session
    if response.status_code >= 500 or not hasattr(response, "body"):
        await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.id == reservation.record_id)
        )
        return
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == reservation.record_id)
        .values(
            status_code=response.status_code,
            content_type=response.headers.get("content-type"),
            sealed_body=reservation.box.seal(bytes(response.body), context=reservation.context),
        )
    )


_PARAMETER = "_idempotency_key_reserved"


def _with_idempotency_parameter(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint with ``require_idempotency_key`` as its *last* dependency parameter.

    Last, because FastAPI resolves dependencies in order: authentication and every other
    dependency run before the key is reserved, so a replay is only for a caller who is still
    allowed in (a revoked key gets 401, not the stored answer), and nothing but the handler
    itself runs after the reservation. (A route-level dependency would run first.)
    """
    signature = inspect.signature(endpoint, eval_str=True)
    if _PARAMETER in signature.parameters:
        return endpoint

    @functools.wraps(endpoint)
    async def endpoint_with_key(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop(_PARAMETER, None)
        if inspect.iscoroutinefunction(endpoint):
            return await endpoint(*args, **kwargs)
        return await run_in_threadpool(endpoint, *args, **kwargs)

    reserved = inspect.Parameter(
        _PARAMETER,
        inspect.Parameter.KEYWORD_ONLY,
        default=Depends(require_idempotency_key),
        annotation=None,
    )
    parameters = [*signature.parameters.values(), reserved]
    endpoint_with_key.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return endpoint_with_key


class IdempotentRoute(UnitOfWorkRoute):
    """Route class that makes every POST of a router idempotent (see module docstring).

    A ``UnitOfWorkRoute``: an attempt that failed retryably is run again whole, the key's
    reservation and stored response included (they rolled back with the attempt).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods: Sequence[str] = kwargs.get("methods") or ()
        if "POST" in {method.upper() for method in methods}:
            endpoint = _with_idempotency_parameter(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_unit_of_work_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_unit_of_work_handler()

        async def idempotent_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except IdempotentReplay as replay:
                return replay.response
            # The attempt commits ``SessionDep`` only after this function returns: the record
            # is completed inside the same transaction as the handler's effect.
            reservation: _Reservation | None = getattr(request.state, "idempotency", None)
            if reservation is not None:
                await _complete(reservation, response)
            return response

        return idempotent_handler


async def purge_expired(database: Database, clock: Clock, settings: Settings) -> int:
    """Worker job: delete idempotency records older than 24 hours, a batch per run."""
    cutoff = clock.now() - RETENTION
    async with database.transaction() as session:
        expired = (
            select(IdempotencyRecord.id)
            .where(IdempotencyRecord.created_at < cutoff)
            .limit(PURGE_BATCH)
            .scalar_subquery()
        )
        result = await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(expired))
        )
    return int(result.rowcount)  # type: ignore[attr-defined]
