"""The hot path's hand-written SQL, compiled once, portable to SQLite and PostgreSQL.

Only ``FOR UPDATE`` differs between the two (SQLite has one writer at a time and no row
locks), so statements that take row locks come in a per-dialect pair.
"""

from __future__ import annotations

from sqlalchemy import JSON, TextClause, bindparam, text

from tongka.db.base import UTCDateTime

INSERT_TRANSFER = text(
    "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount,"
    " currency, code, reference, metadata, pending_id, timeout_seconds, expires_at,"
    " created_at) VALUES (:id, :kind, :debit_account_id, :credit_account_id, :amount,"
    " :currency, :code, :reference, :metadata, :pending_id, :timeout_seconds, :expires_at,"
    " :created_at) ON CONFLICT DO NOTHING RETURNING sequence"
).bindparams(
    bindparam("metadata", type_=JSON()),
    bindparam("expires_at", type_=UTCDateTime()),
    bindparam("created_at", type_=UTCDateTime()),
)

_APPLY = (
    "UPDATE ledger_balances SET debits_posted = debits_posted + :debits_posted,"
    " credits_posted = credits_posted + :credits_posted,"
    " debits_pending = debits_pending + :debits_pending,"
    " credits_pending = credits_pending + :credits_pending"
    " WHERE account_id = :account_id AND shard = :shard"
)
_DEBIT_LIMIT = (
    " AND debits_posted + :debits_posted + debits_pending + :debits_pending"
    " <= credits_posted + :credits_posted"
)
_CREDIT_LIMIT = (
    " AND credits_posted + :credits_posted + credits_pending + :credits_pending"
    " <= debits_posted + :debits_posted"
)

# Keyed by (tests the debit limit, tests the credit limit): the limit is checked in the same
# statement as the write, against the row as it is when the row lock is granted.
APPLY_DELTA: dict[tuple[bool, bool], TextClause] = {
    (False, False): text(_APPLY),
    (True, False): text(_APPLY + _DEBIT_LIMIT),
    (False, True): text(_APPLY + _CREDIT_LIMIT),
    (True, True): text(_APPLY + _DEBIT_LIMIT + _CREDIT_LIMIT),
}

_SELECT_SHARDS = (
    "SELECT account_id, shard, debits_posted, credits_posted, debits_pending, credits_pending"
    " FROM ledger_balances WHERE account_id IN :account_ids ORDER BY account_id, shard"
)


def _expanding(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("account_ids", expanding=True))


SELECT_SHARDS = _expanding(_SELECT_SHARDS)
# Locks are taken in (account_id, shard) order, the order every posting locks rows in.
LOCK_SHARDS = {
    "postgresql": _expanding(_SELECT_SHARDS + " FOR UPDATE"),
    "sqlite": SELECT_SHARDS,
}


def lock_shards_statement(dialect: str) -> TextClause:
    return LOCK_SHARDS.get(dialect, LOCK_SHARDS["postgresql"])
