"""The hot path's hand-written SQL, compiled once, portable to SQLite and PostgreSQL.

Only ``FOR UPDATE`` differs between the two (SQLite has one writer at a time and no row
locks), so statements that take row locks come in a per-dialect pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from tongka.db.base import UTCDateTime

TRANSFER_COLUMNS = (
    "id",
    "kind",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "currency",
    "code",
    "reference",
    "metadata",
    "pending_id",
    "timeout_seconds",
    "expires_at",
    "created_at",
)
# PostgreSQL types of those columns, for casting parameters where no column gives a type.
TRANSFER_COLUMN_TYPES = dict(
    zip(
        TRANSFER_COLUMNS,
        ["VARCHAR"] * 4
        + ["BIGINT"]
        + ["VARCHAR"] * 3
        + ["JSON", "VARCHAR", "INTEGER"]
        + ["TIMESTAMP WITH TIME ZONE"] * 2,
        strict=True,
    )
)

INSERT_TRANSFER = text(
    f"INSERT INTO ledger_transfers ({', '.join(TRANSFER_COLUMNS)})"
    f" VALUES ({', '.join(':' + column for column in TRANSFER_COLUMNS)})"
    " ON CONFLICT DO NOTHING RETURNING sequence"
).bindparams(
    bindparam("metadata", type_=JSON()),
    bindparam("expires_at", type_=UTCDateTime()),
    bindparam("created_at", type_=UTCDateTime()),
)

BALANCE_COLUMNS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def _apply(prefix: str = "") -> str:
    """Add a delta (parameters ``:<prefix><column>``) to one balance shard."""
    assignments = ", ".join(
        f"{column} = {column} + :{prefix}{column}" for column in BALANCE_COLUMNS
    )
    return (
        f"UPDATE ledger_balances SET {assignments}"
        f" WHERE account_id = :{prefix}account_id AND shard = :{prefix}shard"
    )


def _apply_to_free_shard(prefix: str) -> str:
    """Like ``_apply``, but on the first shard row no other transaction holds, starting at
    ``:<prefix>shard`` (PostgreSQL ``SKIP LOCKED``); if every shard is taken, wait for that
    one. Concurrent credits to one hot account then never queue while a shard is free, even
    when two connections' preferred shards coincide."""
    free_shard = (
        f"(SELECT free.shard FROM ledger_balances AS free WHERE free.account_id ="
        f" :{prefix}account_id ORDER BY (free.shard + :{prefix}shard_count - :{prefix}shard)"
        f" % :{prefix}shard_count LIMIT 1 FOR UPDATE SKIP LOCKED)"
    )
    return _apply(prefix).replace(
        f"shard = :{prefix}shard", f"shard = COALESCE({free_shard}, :{prefix}shard)"
    )


def _debit_limit(prefix: str = "") -> str:
    """After the change, debits (posted and pending) still do not exceed posted credits."""
    return (
        f" AND debits_posted + :{prefix}debits_posted + debits_pending + :{prefix}debits_pending"
        f" <= credits_posted + :{prefix}credits_posted"
    )


def _credit_limit(prefix: str = "") -> str:
    """After the change, credits (posted and pending) still do not exceed posted debits."""
    return (
        f" AND credits_posted + :{prefix}credits_posted"
        f" + credits_pending + :{prefix}credits_pending <= debits_posted + :{prefix}debits_posted"
    )


# Keyed by (tests the debit limit, tests the credit limit): the limit is checked in the same
# statement as the write, against the row as it is when the row lock is granted.
APPLY_DELTA: dict[tuple[bool, bool], TextClause] = {
    (False, False): text(_apply()),
    (True, False): text(_apply() + _debit_limit()),
    (False, True): text(_apply() + _credit_limit()),
    (True, True): text(_apply() + _debit_limit() + _credit_limit()),
}

_SELECT_SHARDS = (
    "SELECT account_id, shard, debits_posted, credits_posted, debits_pending, credits_pending"
    " FROM ledger_balances WHERE account_id IN :account_ids ORDER BY account_id, shard"
)


def _expanding(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("account_ids", expanding=True))


SELECT_SHARDS = _expanding(_SELECT_SHARDS)
# Locks are taken in (account_id, shard) order, the order every posting locks rows in.
# ``COLLATE "C"`` sorts by code point, as Python sorts the ids it locks one by one.
LOCK_SHARDS = {
    "postgresql": _expanding(
        _SELECT_SHARDS.removesuffix("ORDER BY account_id, shard")
        + 'ORDER BY account_id COLLATE "C", shard FOR UPDATE'
    ),
    "sqlite": SELECT_SHARDS,
}


def lock_shards_statement(dialect: str) -> TextClause:
    return LOCK_SHARDS.get(dialect, LOCK_SHARDS["postgresql"])


def _single_transfer_statement(first_limit: str) -> TextClause:
    """PostgreSQL: one transfer in ONE statement (one round trip), in lock order.

    The first account's update (with its limit test, if any) runs only if the transfer id
    is not taken yet; the insert only if that update happened; the second account's update
    only if the insert happened. So a refused transfer (limit, replay) writes nothing.
    The one case that needs undoing is a concurrent duplicate whose insert committed after
    our ``NOT EXISTS`` looked: then ``inserted`` is empty and the caller reverses the first
    update (see ``posting._post_single_postgresql``).
    """
    return text(
        f"WITH first_account AS ({_apply('first_')}{first_limit}"
        " AND NOT EXISTS (SELECT 1 FROM ledger_transfers WHERE id = CAST(:id AS VARCHAR))"
        " RETURNING 1),"
        f" inserted AS (INSERT INTO ledger_transfers ({', '.join(TRANSFER_COLUMNS)})"
        " SELECT "
        + ", ".join(f"CAST(:{c} AS {t})" for c, t in TRANSFER_COLUMN_TYPES.items())
        + " WHERE EXISTS (SELECT 1 FROM first_account)"
        " ON CONFLICT DO NOTHING RETURNING sequence),"
        f" second_account AS ({_apply_to_free_shard('second_')}"
        " AND EXISTS (SELECT 1 FROM inserted) RETURNING 1)"
        " SELECT (SELECT count(*) FROM first_account) AS first_updated,"
        " (SELECT sequence FROM inserted) AS sequence,"
        " (SELECT count(*) FROM second_account) AS second_updated"
    ).bindparams(
        bindparam("metadata", type_=JSON()),
        bindparam("expires_at", type_=UTCDateTime()),
        bindparam("created_at", type_=UTCDateTime()),
    )


# Keyed by the first account's tested limits (at most one side is ever tested here).
SINGLE_TRANSFER_POSTGRESQL: dict[tuple[bool, bool], TextClause] = {
    (False, False): _single_transfer_statement(""),
    (True, False): _single_transfer_statement(_debit_limit("first_")),
    (False, True): _single_transfer_statement(_credit_limit("first_")),
}


class DriverStatement:
    """A statement compiled once for asyncpg, run with ``exec_driver_sql``.

    The hot path's statement skips SQLAlchemy's per-call compilation-cache lookup and bind
    processing; the caller passes values the driver takes as they are (JSON as text,
    timezone-aware datetimes).
    """

    def __init__(self, clause: TextClause) -> None:
        compiled = clause.compile(dialect=asyncpg_dialect())
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())

    def arguments(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.names)


SINGLE_TRANSFER_DRIVER: dict[tuple[bool, bool], DriverStatement] = {
    tests: DriverStatement(clause) for tests, clause in SINGLE_TRANSFER_POSTGRESQL.items()
}


# --------------------------------------------------------------------------- batches (PostgreSQL)
# A batch touches many rows; these statements take arrays (``unnest``) so the whole batch is
# one statement per step, whatever its size.

BATCH_LOCK_POSTGRESQL = DriverStatement(
    text(
        "SELECT b.account_id, b.shard, b.debits_posted, b.credits_posted, b.debits_pending,"
        " b.credits_pending FROM ledger_balances AS b"
        " JOIN unnest(CAST(:account_ids AS VARCHAR[]), CAST(:shards AS INTEGER[]),"
        " CAST(:limited AS BOOLEAN[])) AS t(account_id, shard, limited)"
        " ON b.account_id = t.account_id AND (t.limited OR b.shard = t.shard)"
        # the common lock order: limited accounts first, then by id (code points), then shard
        ' ORDER BY t.limited DESC, b.account_id COLLATE "C", b.shard FOR UPDATE OF b'
    )
)

_BATCH_INSERT = (
    f"INSERT INTO ledger_transfers ({', '.join(TRANSFER_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in TRANSFER_COLUMN_TYPES.items())
    + ")"
    " ON CONFLICT DO NOTHING RETURNING id, sequence"
)

_BATCH_APPLY = (
    "UPDATE ledger_balances AS b SET debits_posted = b.debits_posted + d.debits_posted,"
    " credits_posted = b.credits_posted + d.credits_posted,"
    " debits_pending = b.debits_pending + d.debits_pending,"
    " credits_pending = b.credits_pending + d.credits_pending"
    " FROM unnest(CAST(:account_id AS VARCHAR[]), CAST(:shard AS INTEGER[]),"
    " CAST(:debits_posted AS BIGINT[]), CAST(:credits_posted AS BIGINT[]),"
    " CAST(:debits_pending AS BIGINT[]), CAST(:credits_pending AS BIGINT[]))"
    " AS d(account_id, shard, debits_posted, credits_posted, debits_pending, credits_pending)"
    " WHERE b.account_id = d.account_id AND b.shard = d.shard"
)

# The batch's writes in ONE statement (one round trip while its rows are locked): insert the
# transfers, add each account's summed change, and give the caller back its planner settings
# (see PREFER_INDEX_JOINS: this statement was planned before they change, and a separate
# statement to restore them would be one more round trip while the rows stay locked). Every
# balance row it updates was locked by BATCH_LOCK_POSTGRESQL, so the update takes no new
# lock. If a concurrent transaction inserted one of the ids first, fewer ids come back and
# the caller rolls back its savepoint (which also undoes the settings).
BATCH_WRITE_POSTGRESQL = DriverStatement(
    text(
        f"WITH inserted AS ({_BATCH_INSERT}), applied AS ({_BATCH_APPLY}),"
        " restored AS (SELECT set_config('enable_hashjoin', CAST(:hashjoin AS TEXT), true),"
        " set_config('enable_mergejoin', CAST(:mergejoin AS TEXT), true))"
        # a one-time filter: evaluated once, before (and whether or not) rows come back
        " SELECT id, sequence FROM inserted WHERE (SELECT count(*) FROM restored) = 1"
    )
)

# The batch statements join arrays (``unnest``) to ledger_balances. On a small table the
# planner prefers to hash-join a sequential scan of the whole table over ~200 primary-key
# probes (we measured 7 ms against 2 ms per batch of 100); on a large one it would be far
# worse. So a batch turns hash and merge joins off for its own statements and restores the
# caller's settings afterwards (transaction-local ``set_config``).
PREFER_INDEX_JOINS = DriverStatement(
    text(
        "WITH before AS MATERIALIZED (SELECT current_setting('enable_hashjoin') AS hashjoin,"
        " current_setting('enable_mergejoin') AS mergejoin)"
        " SELECT hashjoin, mergejoin, set_config('enable_hashjoin', 'off', true),"
        " set_config('enable_mergejoin', 'off', true) FROM before"
    )
)
RESTORE_JOINS = DriverStatement(
    text(
        "SELECT set_config('enable_hashjoin', CAST(:hashjoin AS TEXT), true),"
        " set_config('enable_mergejoin', CAST(:mergejoin AS TEXT), true)"
    )
)
