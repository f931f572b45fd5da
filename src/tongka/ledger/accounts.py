"""Opening accounts, and the in-process cache of their (immutable) metadata.

Why a cache: every posting needs each account's currency, limit flags and shard count.
Accounts never change after they are opened, so once an account is known to be committed
its metadata is kept per engine and a posting needs no extra query for it. An account this
session opened itself is kept only in the session (``session.info``) until that session is
gone, or, on a bare connection, only for its current transaction: it might still be rolled
back, and must not be believed by other transactions.

Every ledger function takes a ``UnitOfWork``: the caller's ``AsyncSession``, or, on hot
paths where the ORM session's own cost matters, a Core ``AsyncConnection`` in a transaction
(``Database.connection_transaction``). The postings and reads also take a
``DriverConnection`` (``Database.driver_transaction``, asyncpg itself; it opens no
accounts). ``tongka.db.statements`` hides the difference.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Insert, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, RootTransaction
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.db.base import UTCDateTime
from tongka.db.driver import DriverConnection
from tongka.db.statements import AnyUnitOfWork, UnitOfWork, dialect_of, engine_of, fetch_all
from tongka.ledger import statements
from tongka.ledger.errors import AccountConflict, AccountNotFound, InvalidTransfer
from tongka.ledger.models import ACCOUNT_ID_LENGTH, LedgerAccount, LedgerBalance
from tongka.ledger.types import AccountCode, AccountSpec, AccountType
from tongka.money import get_currency

HOT_SHARD_COUNT = 64  # more than the concurrent connections of a typical deployment
_SESSION_KEY = "tongka.ledger.opened_accounts"

# Rows per chunk of ``open_accounts`` (parameters of its widest row times rows): one
# ``SELECT ... IN`` and one executemany ``INSERT`` (sent as multi-row statements of up to
# 1,000 rows) per chunk, within SQLite's (32,766) and asyncpg's (32,767) parameter limits.
_PARAMETERS_PER_STATEMENT = 30_000

_Item = TypeVar("_Item")

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


def _engine_cache(unit: AnyUnitOfWork) -> dict[str, AccountInfo]:
    return _cache.setdefault(engine_of(unit), {})


def _session_accounts(unit: AnyUnitOfWork) -> dict[str, AccountInfo]:
    """Accounts opened by this unit of work and not yet known to be committed."""
    if isinstance(unit, DriverConnection):
        if unit.info is not None:  # in an ORM session's transaction: the session's
            shared: dict[str, AccountInfo] = unit.info.setdefault(_SESSION_KEY, {})
            return shared
        return {}  # a driver connection of its own opens no accounts
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


def forget_account(session: AnyUnitOfWork, account_id: str) -> None:
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
    """From a row of ``statements.SELECT_ACCOUNTS`` (its ``ACCOUNT_INFO_COLUMNS``)."""
    (
        account_id,
        currency,
        account_type,
        code_value,
        owner_type,
        owner_id,
        debits_must_not_exceed_credits,
        credits_must_not_exceed_debits,
        hot,
        shard_count,
    ) = row
    code: AccountCode | str = code_value
    if code_value in AccountCode._value2member_map_:
        code = AccountCode(code_value)
    spec = AccountSpec(
        account_id=account_id,
        currency=currency,
        type=AccountType(account_type),
        code=code,
        owner_type=owner_type,
        owner_id=owner_id,
        debits_must_not_exceed_credits=debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=credits_must_not_exceed_debits,
        hot=hot,
    )
    return AccountInfo(spec=spec, shard_count=shard_count)


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


def _account_row(spec: AccountSpec, *, now: datetime) -> dict[str, object]:
    return {
        "id": spec.account_id,
        "currency": spec.currency,
        "type": AccountType(spec.type).value,
        "code": str(spec.code),
        "owner_type": spec.owner_type,
        "owner_id": spec.owner_id,
        "debits_must_not_exceed_credits": spec.debits_must_not_exceed_credits,
        "credits_must_not_exceed_debits": spec.credits_must_not_exceed_debits,
        "hot": spec.hot,
        "shard_count": _shard_count(spec),
        "created_at": now,
    }


def _shard_count(spec: AccountSpec) -> int:
    return HOT_SHARD_COUNT if spec.hot else 1


def _balance_rows(spec: AccountSpec) -> list[dict[str, object]]:
    return [
        {
            "account_id": spec.account_id,
            "shard": shard,
            "debits_posted": 0,
            "credits_posted": 0,
            "debits_pending": 0,
            "credits_pending": 0,
        }
        for shard in range(_shard_count(spec))
    ]


def _check_same(existing: AccountSpec, spec: AccountSpec) -> None:
    if not _same_spec(existing, spec):
        raise AccountConflict(
            f"account {spec.account_id} is already open with a different specification "
            f"({existing}); accounts cannot be changed",
            param="account_id",
            details={"account_id": spec.account_id},
        )


async def open_account(session: UnitOfWork, spec: AccountSpec, *, now: datetime) -> None:
    """Open an account with zero balances. Idempotent: opening it again changes nothing.

    Opening an existing id with a different specification raises ``AccountConflict``
    (accounts are immutable). A hot account gets ``HOT_SHARD_COUNT`` balance shards.
    """
    _validate_spec(spec)
    known = _engine_cache(session).get(spec.account_id)
    if known is not None:
        # Read from the database earlier and never deleted (accounts are immutable): it is
        # open, no round trip needed (the payable every redemption credits). Accounts
        # opened by a transaction not yet committed are not in this cache.
        _check_same(known.spec, spec)
        return
    inserted = await session.execute(_INSERT_ACCOUNT, _account_row(spec, now=now))
    if inserted.first() is not None:
        await session.execute(_INSERT_BALANCE_SHARD, _balance_rows(spec))
        _session_accounts(session)[spec.account_id] = AccountInfo(spec, _shard_count(spec))
        return
    existing = (await load_accounts(session, [spec.account_id]))[spec.account_id]
    _check_same(existing.spec, spec)


async def open_accounts(
    session: UnitOfWork, specs: Sequence[AccountSpec], *, now: datetime
) -> None:
    """Open many accounts with a constant number of statements per chunk of rows.

    The same contract as ``open_account`` for each spec (idempotent; a different spec for
    an existing id raises ``AccountConflict``), and all or nothing: every spec is validated
    and compared with the accounts already open before anything is written.
    """
    wanted = _distinct_specs(specs)
    existing: dict[str, AccountInfo] = {}
    for account_ids in _chunks(list(wanted), _rows_per_statement(LedgerAccount)):
        existing.update(await load_accounts(session, account_ids, missing_ok=True))
    for account_id, info in existing.items():
        _check_same(info.spec, wanted[account_id])
    missing = [spec for account_id, spec in wanted.items() if account_id not in existing]
    raced: list[str] = []
    for chunk in _chunks(missing, _rows_per_statement(LedgerAccount)):
        raced += await _insert_accounts(session, chunk, now=now)
    if raced:  # opened meanwhile by a concurrent transaction that has committed
        for account_id, info in (await load_accounts(session, raced)).items():
            _check_same(info.spec, wanted[account_id])


def _distinct_specs(specs: Sequence[AccountSpec]) -> dict[str, AccountSpec]:
    """The specs by id, validated; the same id twice must mean the same account."""
    wanted: dict[str, AccountSpec] = {}
    for spec in specs:
        _validate_spec(spec)
        earlier = wanted.setdefault(spec.account_id, spec)
        _check_same(earlier, spec)
    return wanted


async def _insert_accounts(
    session: UnitOfWork, specs: list[AccountSpec], *, now: datetime
) -> list[str]:
    """Insert the accounts and their balance shards; the ids someone else inserted first.

    One statement executed with many parameter sets: SQLAlchemy sends it as multi-row
    ``INSERT``s of up to 1,000 rows ("insertmanyvalues") from one cached compilation, which
    is far cheaper than compiling a statement with thousands of ``VALUES`` rows.
    """
    inserted = set(
        await session.scalars(
            _insert_ignoring_conflicts(session, LedgerAccount).returning(LedgerAccount.id),
            [_account_row(spec, now=now) for spec in specs],
        )
    )
    opened = [spec for spec in specs if spec.account_id in inserted]
    shards = [row for spec in opened for row in _balance_rows(spec)]
    if shards:
        await session.execute(_insert_ignoring_conflicts(session, LedgerBalance), shards)
    session_accounts = _session_accounts(session)
    for spec in opened:
        session_accounts[spec.account_id] = AccountInfo(spec, _shard_count(spec))
    return [spec.account_id for spec in specs if spec.account_id not in inserted]


def _insert_ignoring_conflicts(session: UnitOfWork, model: type[object]) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` into the model's table, in the session's dialect."""
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    table = model.__table__  # type: ignore[attr-defined]
    return dialect.insert(table).on_conflict_do_nothing()


def _rows_per_statement(model: type[object]) -> int:
    return _PARAMETERS_PER_STATEMENT // len(model.__table__.columns)  # type: ignore[attr-defined]


def _chunks(items: list[_Item], size: int) -> list[list[_Item]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


async def load_accounts(
    session: AnyUnitOfWork, account_ids: Iterable[str], *, missing_ok: bool = False
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
        for row in await fetch_all(session, statements.SELECT_ACCOUNTS, {"account_ids": missing}):
            info = _info_from_row(row)
            found[info.account_id] = info
            if info.account_id not in session_accounts:
                engine_cache[info.account_id] = info
        for account_id in missing:
            if account_id not in found and not missing_ok:
                raise AccountNotFound(
                    f"ledger account {account_id} does not exist", param="account_id"
                )
    return found
