"""The redemption lane over HTTP: plain ``POST /v1/redemptions`` of one process answered
together, a batch per database transaction (issue #12 "Speed"; PostgreSQL).

Why: the route's own path — FastAPI's dependencies, authentication, the idempotency
record, the service — costs about twenty statements and several milliseconds of Python
per request; at a promotion day's rate the API process's CPU, not the database, is the
limit. Here the requests that arrive while a batch is in flight queue for the next one,
and a batch does each step once for all its members: one statement authenticates every
API key, one reserves every ``Idempotency-Key``, ``redemption.lane`` redeems them (claims,
cards, limits, balances, one posting, the records), one seals every response into its
idempotency record, one commit. At light load a request is a batch of one: no waiting.

What is taken: a JSON body that ``RedeemIn`` accepts, naming one card by number and
secret, with an API key and an ``Idempotency-Key``. The answer is the route's own: the
same ``PurchaseOut``, stored as the route stores it, so a replay through the route returns
it. Every other request — and every member the lane leaves (a decline, a limit, a
challenge, a replay, an unknown key, a refused action, another store's cashier) — goes
to the route untouched, after its batch: nothing of it was written, and the route answers
it as it always has, errors included.

If a batch fails in any way (a lost connection, a deadlock, a commit whose outcome is
unknown), every member goes to the route: the idempotency record makes that exactly once
— a committed batch's member finds its stored answer and replays it, an uncommitted
one runs afresh.

The middleware sits inside the others (rate limits, body size, metrics, ``no-store``),
which see lane requests like any other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tongka.api.idempotency import (
    HEADER,
    MAX_KEY_LENGTH,
    KeyRequest,
    complete_many,
    request_hash_of,
    reserve_many,
)
from tongka.api.redemptions import RedeemIn, purchase_out
from tongka.cards.keys import card_keys
from tongka.config import Settings
from tongka.db import Database
from tongka.db.statements import driver_of
from tongka.edge.auth import identity_keys_of
from tongka.edge.callers import (
    AUTHENTICATED_STATE,
    bearer_token,
    presented_credential,
)
from tongka.identity import api_keys
from tongka.identity.principal import Principal
from tongka.policy import Action, allowed
from tongka.redemption import lane
from tongka.redemption.purchase import CardCredential, Purchase, RedeemRequest

log = structlog.get_logger(__name__)

PATH = "/v1/redemptions"
ROUTE = SimpleNamespace(path_format=PATH)  # the metrics' route label, as the route's
# batches a member may find its card held elsewhere (or unknown) before the route answers
# it, and the pause before each new try: about a second in all, a batch's time at first
BUSY_ATTEMPTS = 40
BUSY_DELAY_SECONDS = 0.002
BUSY_DELAY_MAX_SECONDS = 0.04


def _busy_delay(attempts: int) -> float:
    return float(min(BUSY_DELAY_SECONDS * attempts, BUSY_DELAY_MAX_SECONDS))


@dataclass
class _Member:
    """One request waiting for its batch; ``answer`` is None when the route must answer."""

    request: Request
    body: RedeemIn
    secret: str
    key: str
    reserve: KeyRequest  # the caller (the key's ``presented_credential``), its hash
    answer: asyncio.Future[Response | None]
    attempts: int = 0  # batches that found its card held by another transaction


class RedemptionLaneMiddleware:
    """Takes plain redemptions into the lane; passes everything else through (see module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        settings: Settings = state.settings
        database: Database = state.database
        if settings.redemption_lane_members < 1 or database.dialect != "postgresql":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replaying(body)
        member = _member(Request(scope, replay), body)
        if member is not None:
            lane_of(state).join(member)
            response = await member.answer
            if response is not None:
                scope.setdefault("state", {})[AUTHENTICATED_STATE] = member.reserve.caller
                scope["route"] = ROUTE
                await response(scope, replay, send)
                return
        await self.app(scope, _replaying(body), send)


def lane_of(state: Any) -> Lane:
    """The app's lane for its database (``state``: the app's), made on first use: one per
    process, like the coalescer."""
    existing: Lane | None = getattr(state, "redemption_lane", None)
    if existing is None or existing.database is not state.database:
        existing = Lane(state.database, state.settings, state)
        state.redemption_lane = existing
    return existing


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    """A ``receive`` that gives the body read already, then waits as the server would."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # a disconnect never comes from a replay
        raise AssertionError("unreachable")

    return receive


def _member(request: Request, body: bytes) -> _Member | None:
    """The request as a lane member, or None for the route (anything but the plain case)."""
    content_type = request.headers.get("content-type", "")
    key = request.headers.get(HEADER, "")
    secret = bearer_token(request) or ""
    if not content_type.startswith("application/json") or not 1 <= len(key) <= MAX_KEY_LENGTH:
        return None
    if not secret.startswith(api_keys.API_KEY_PREFIX):
        return None
    try:
        parsed = RedeemIn.model_validate_json(body)
    except ValidationError:
        return None
    card = parsed.cards[0]
    if (
        len(parsed.cards) != 1
        or card.number is None
        or card.secret is None
        or card.payment_code is not None
        or card.share is not None
        or parsed.challenge_id is not None
        or parsed.challenge_code is not None
    ):
        return None
    future: asyncio.Future[Response | None] = asyncio.get_running_loop().create_future()
    caller = presented_credential(request)  # the bearer key's: ``caller_identity``'s answer
    assert caller is not None
    path, query = request.url.path, request.url.query
    reserve = KeyRequest(caller, key, request_hash_of("POST", path, query, body), "POST", path)
    return _Member(request, parsed, secret, key, reserve, future)


class Lane:
    """The queue of one process and database, and the batches running from it."""

    def __init__(self, database: Database, settings: Settings, state: Any) -> None:
        self.database = database
        self.settings = settings
        self.state = state
        self.queue: list[_Member] = []
        self.running = 0
        self.lanes = settings.redemption_lane_batches
        # batches committed, members the lane answered, the most members a batch had
        self.batches = 0
        self.answered = 0
        self.largest = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def join(self, member: _Member) -> None:
        self.queue.append(member)
        if self.running < self.lanes:
            self.running += 1
            task = asyncio.get_running_loop().create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        try:
            while self.queue:
                size = self.settings.redemption_lane_members
                batch, self.queue = self.queue[:size], self.queue[size:]
                await self._run(batch)
        finally:
            self.running -= 1

    async def _run(self, batch: list[_Member]) -> None:
        try:
            async with self.database.transaction() as session:
                answers = await self._answer(session, batch)
        except Exception as error:  # noqa: BLE001 - every member goes the usual way
            log.info("redemption_lane.batch_failed", members=len(batch), error=repr(error))
            answers = [None for _ in batch]
        else:
            self.batches += 1
            self.answered += sum(isinstance(answer, Response) for answer in answers)
            self.largest = max(self.largest, len(batch))
        loop = asyncio.get_running_loop()
        for member, answer in zip(batch, answers, strict=True):
            if isinstance(answer, lane.Busy) and member.attempts < BUSY_ATTEMPTS:
                # its card was held elsewhere (another process's batch, most likely): a
                # later batch, once that one has had the time to commit
                member.attempts += 1
                loop.call_later(_busy_delay(member.attempts), self.join, member)
            elif not member.answer.done():
                member.answer.set_result(answer if isinstance(answer, Response) else None)

    async def _answer(
        self, session: AsyncSession, batch: list[_Member]
    ) -> list[Response | lane.Busy | None]:
        """Each member's response; None for the route, ``BUSY`` for a later batch; in the
        batch's transaction."""
        now = self.state.clock.now()
        principals = await api_keys.authenticate_api_keys(
            session, identity_keys_of(self.state), [m.secret for m in batch], now=now
        )
        requests: list[RedeemRequest | None] = [
            _redeem_request(m, principals.get(m.secret)) for m in batch
        ]
        asked = [m.reserve for m, r in zip(batch, requests, strict=True) if r]
        unit = await driver_of(session)  # after the keys' look-up: the transaction has begun
        reserved = await reserve_many(unit, asked, now=now)
        record_ids: list[int | None] = []
        for member, request in zip(batch, requests, strict=True):
            record_id = None
            if request is not None:
                record_id = reserved.get((member.reserve.caller, member.key))
            record_ids.append(record_id)
        taken = [r if i is not None else None for r, i in zip(requests, record_ids, strict=True)]
        purchases = await lane.redeem_plain(
            session,
            [r for r in taken if r is not None],
            keys=card_keys(self.settings),
            settings=self.settings,
            now=now,
        )
        answers: list[Response | lane.Busy | None] = []
        stored, forget = [], []
        found = iter(purchases)
        for member, request, record_id in zip(batch, taken, record_ids, strict=True):
            purchase = next(found) if request is not None else None
            if not isinstance(purchase, Purchase) or record_id is None:
                answers.append(purchase if isinstance(purchase, lane.Busy) else None)
                if record_id is not None:
                    forget.append(record_id)
                continue
            response = _json(purchase_out(purchase, now))
            stored.append((record_id, member.reserve.caller, member.key, response))
            answers.append(response)
        await complete_many(unit, self.settings, stored, forget)
        return answers


def _json(answer: BaseModel) -> Response:
    """The route's JSON response for ``answer``, rendered by pydantic in one call (the same
    compact bytes as FastAPI's ``JSONResponse`` of the serialised model; a tenth of the
    cost of ``jsonable_encoder``'s walk)."""
    return Response(answer.model_dump_json().encode(), media_type="application/json")


def _redeem_request(member: _Member, principal: Principal | None) -> RedeemRequest | None:
    """The service's request for a member whose key may redeem here, else None (the route
    answers 401, 403 or the store error)."""
    if principal is None or principal.merchant_id is None:
        return None
    if not allowed(principal, Action.REDEMPTION_CREATE):
        return None
    body = member.body
    store_id = body.store_id
    if principal.store_id is not None:
        if store_id not in (None, principal.store_id):
            return None
        store_id = principal.store_id
    card = body.cards[0]
    return RedeemRequest(
        merchant_id=principal.merchant_id,
        store_id=store_id,
        terminal_id=body.terminal_id,
        idempotency_key=member.key,
        amount=body.amount.amount,
        currency=body.amount.currency,
        cards=[CardCredential(number=card.number, secret=card.secret)],
        actor=principal.actor,
        allow_partial=body.allow_partial,
    )
