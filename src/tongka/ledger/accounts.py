"""Opening accounts, and the in-process cache of their (immutable) metadata.

Why a cache: every posting needs each account's currency, limit flags and shard count.
Accounts never change after they are opened, so once an account is known to be committed
its metadata is kept per engine and a posting needs no extra query for it. An account this
session opened itself is kept only in the session (``session.info``) until that session is
gone, or, on a bare connection, only for its current transaction: it might still be rolled
back, and must not be believed by other transactions.

Every ledger function takes a ``UnitOfWork``: the caller's ``AsyncSession``, or, on hot
paths where the ORM session's own cost matters, a Core ``AsyncConnection`` in a transaction
(``Database.connection_transaction``). The helpers here hide the difference.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.engine import Engine, RootTransaction
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tongka.db.base import UTCDateTime
from tongka.db.engine import UnitOfWork
from tongka.ledger.errors import AccountConflict, AccountNotFound, InvalidTransfer
from tongka.ledger.models import ACCOUNT_ID_LENGTH, LedgerAccount
from tongka.ledger.types import AccountCode, AccountSpec, AccountType
from tongka.money import get_currency

_accounts_table = cast(Table, LedgerAccount.__table__)
HOT_SHARD_COUNT = 64  # more than the concurrent connections of a typical deployment
_SESSION_KEY = "tongka.ledger.opened_accounts"

_cache: weakref.WeakKeyDictionary[Engine, dict[str, AccountInfo]] = weakref.WeakKeyDictionary()
# accounts opened in a bare connection's transaction, until that transaction is gone
_opened_in_transaction: weakref.WeakKeyDictionary[RootTransaction, dict[str, AccountInfo]] = (
    weakref.WeakKeyDictionary()
)

_INSERT_ACCOUNT = text(
    "INSERT INTO ledger_accounts (id, currency, type, code, owner_type, owner_id,"
    " debits_must_not_exceed_credits, credits_must_not_exceed_debits, hot, shard_count,"
    " created_at) VALUES (:id, :currency, :type, :code, :owner_type, :owner_id,"
    " :debits_must_not_exceed_credits, :credits_must_not_exceed_debits, :hot, :shard_count,"
    " :created_at) ON CONFLICT DO NOTHING RETURNING id"
).bindparams(bindparam("created_at", type_=UTCDateTime()))

_INSERT_BALANCE_SHARD = text(
    "INSERT INTO ledger_balances (account_id, shard, debits_posted, credits_posted,"
    " debits_pending, credits_pending) VALUES (:account_id, :shard, 0, 0, 0, 0)"
)


@dataclass(frozen=True)
class AccountInfo:
    """What the posting code needs to know about an account."""

    spec: AccountSpec
    shard_count: int

    @property
    def account_id(self) -> str:
        return self.spec.account_id

    @property
    def currency(self) -> str:
        return self.spec.currency

    @property
    def is_sharded(self) -> bool:
        return self.shard_count > 1


def engine_of(unit: UnitOfWork) -> Engine:
    """The engine behind a unit of work (cheaply: the hot path asks on every posting)."""
    if isinstance(unit, AsyncConnection):
        return unit.sync_engine
    bind = unit.bind
    if bind is not None:
        return bind.sync_engine
    return unit.get_bind().engine


def dialect_of(unit: UnitOfWork) -> str:
    return engine_of(unit).dialect.name


async def connection_of(unit: UnitOfWork) -> AsyncConnection:
    """The connection a unit of work runs on (a session's, or the connection itself)."""
    if isinstance(unit, AsyncConnection):
        return unit
    return await unit.connection()


def _engine_cache(unit: UnitOfWork) -> dict[str, AccountInfo]:
    return _cache.setdefault(engine_of(unit), {})


def _session_accounts(unit: UnitOfWork) -> dict[str, AccountInfo]:
    """Accounts opened by this unit of work and not yet known to be committed."""
    if isinstance(unit, AsyncSession):
        accounts: dict[str, AccountInfo] = unit.info.setdefault(_SESSION_KEY, {})
        return accounts
    transaction = unit.sync_connection.get_transaction() if unit.sync_connection else None
    if transaction is None:
        return {}  # no transaction yet: nothing opened in it
    return _opened_in_transaction.setdefault(transaction, {})


def clear_account_cache() -> None:
    """Forget every cached account (for test set-ups that roll back committed openings)."""
    _cache.clear()


def forget_account(session: UnitOfWork, account_id: str) -> None:
    """Drop a cached account that turned out not to exist (its opening was rolled back)."""
    _engine_cache(session).pop(account_id, None)
    _session_accounts(session).pop(account_id, None)


def _validate_spec(spec: AccountSpec) -> None:
    if not spec.account_id or len(spec.account_id) > ACCOUNT_ID_LENGTH:
        raise InvalidTransfer(
            f"account id must be 1 to {ACCOUNT_ID_LENGTH} characters, got {spec.account_id!r}",
            code="invalid_account",
            param="account_id",
        )
    get_currency(spec.currency)  # UnknownCurrency: only currencies whose exponent we know
    AccountType(spec.type)  # raises ValueError on a wrong type: a programming error


def _info_from_row(row: Any) -> AccountInfo:
    """From a Core row of ``ledger_accounts``."""
    code: AccountCode | str = row.code
    if row.code in AccountCode._value2member_map_:
        code = AccountCode(row.code)
    spec = AccountSpec(
        account_id=row.id,
        currency=row.currency,
        type=AccountType(row.type),
        code=code,
        owner_type=row.owner_type,
        owner_id=row.owner_id,
        debits_must_not_exceed_credits=row.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=row.credits_must_not_exceed_debits,
        hot=row.hot,
    )
    return AccountInfo(spec=spec, shard_count=row.shard_count)


def _same_spec(left: AccountSpec, right: AccountSpec) -> bool:
    return (
        left.account_id == right.account_id
        and left.currency == right.currency
        and AccountType(left.type) == AccountType(right.type)
        and str(left.code) == str(right.code)
        and left.owner_type == right.owner_type
        and left.owner_id == right.owner_id
        and left.debits_must_not_exceed_credits == right.debits_must_not_exceed_credits
        and left.credits_must_not_exceed_debits == right.credits_must_not_exceed_debits
        and left.hot == right.hot
    )


async def open_account(session: UnitOfWork, spec: AccountSpec, *, now: datetime) -> None:
    """Open an account with zero balances. Idempotent: opening it again changes nothing.

    Opening an existing id with a different specification raises ``AccountConflict``
    (accounts are immutable). A hot account gets ``HOT_SHARD_COUNT`` balance shards.
    """
    _validate_spec(spec)
    shard_count = HOT_SHARD_COUNT if spec.hot else 1
    inserted = await session.execute(
        _INSERT_ACCOUNT,
        {
            "id": spec.account_id,
            "currency": spec.currency,
            "type": AccountType(spec.type).value,
            "code": str(spec.code),
            "owner_type": spec.owner_type,
            "owner_id": spec.owner_id,
            "debits_must_not_exceed_credits": spec.debits_must_not_exceed_credits,
            "credits_must_not_exceed_debits": spec.credits_must_not_exceed_debits,
            "hot": spec.hot,
            "shard_count": shard_count,
            "created_at": now,
        },
    )
    if inserted.first() is not None:
        await session.execute(
            _INSERT_BALANCE_SHARD,
            [{"account_id": spec.account_id, "shard": shard} for shard in range(shard_count)],
        )
        _session_accounts(session)[spec.account_id] = AccountInfo(spec, shard_count)
        return
    existing = (await load_accounts(session, [spec.account_id]))[spec.account_id]
    if not _same_spec(existing.spec, spec):
        raise AccountConflict(
            f"account {spec.account_id} is already open with a different specification "
            f"({existing.spec}); accounts cannot be changed",
            param="account_id",
        )


async def load_accounts(
    session: UnitOfWork, account_ids: Iterable[str], *, missing_ok: bool = False
) -> dict[str, AccountInfo]:
    """Metadata of the given accounts; raises ``AccountNotFound`` naming a missing one
    (unless ``missing_ok``: then missing accounts are simply absent from the result)."""
    wanted = list(dict.fromkeys(account_ids))
    found: dict[str, AccountInfo] = {}
    engine_cache = _engine_cache(session)
    session_accounts = _session_accounts(session)
    missing = []
    for account_id in wanted:
        info = session_accounts.get(account_id) or engine_cache.get(account_id)
        if info is None:
            missing.append(account_id)
        else:
            found[account_id] = info
    if missing:
        rows = await session.execute(
            select(_accounts_table).where(_accounts_table.c.id.in_(missing))
        )
        for row in rows:
            info = _info_from_row(row)
            found[row.id] = info
            if row.id not in session_accounts:
                engine_cache[row.id] = info
        for account_id in missing:
            if account_id not in found and not missing_ok:
                raise AccountNotFound(
                    f"ledger account {account_id} does not exist", param="account_id"
                )
    return found
