"""The ledger's hand-written SQL, compiled once, run on every kind of unit of work.

Each statement is a ``tongka.db.statements.DriverStatement``: on PostgreSQL it is sent as
compiled for asyncpg (through asyncpg itself on a driver connection, through
``exec_driver_sql`` on a SQLAlchemy unit), on SQLite its SQLite form runs through
SQLAlchemy. The two forms differ where SQLite lacks something: row locks (``FOR
UPDATE``; SQLite has one writer at a time) and arrays (``= ANY(array)``; SQLite gets an
expanding ``IN``). Rows are read by position.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import JSON, Table, bindparam, select, text

from tongka.db.base import UTCDateTime
from tongka.db.statements import DriverStatement
from tongka.ledger.models import LedgerAccount, LedgerTransfer

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

_TYPED_TRANSFER_PARAMETERS = (
    bindparam("metadata", type_=JSON()),
    bindparam("expires_at", type_=UTCDateTime()),
    bindparam("created_at", type_=UTCDateTime()),
)

INSERT_TRANSFER = DriverStatement(
    text(
        f"INSERT INTO ledger_transfers ({', '.join(TRANSFER_COLUMNS)})"
        f" VALUES ({', '.join(':' + column for column in TRANSFER_COLUMNS)})"
        " ON CONFLICT DO NOTHING RETURNING sequence"
    ).bindparams(*_TYPED_TRANSFER_PARAMETERS)
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
    when two connections' preferred shards coincide. The preferred shard is probed on its
    own first (one index lookup; ``COALESCE`` evaluates the scan of all the shards only if
    that probe found it taken): it is almost always free, and sorting every shard row on
    every posting cost the server ~40 µs."""
    account = f"free.account_id = :{prefix}account_id"
    preferred = (
        f"(SELECT free.shard FROM ledger_balances AS free WHERE {account}"
        f" AND free.shard = :{prefix}shard FOR UPDATE SKIP LOCKED)"
    )
    any_free = (
        f"(SELECT free.shard FROM ledger_balances AS free WHERE {account}"
        f" ORDER BY (free.shard + :{prefix}shard_count - :{prefix}shard) % :{prefix}shard_count"
        " LIMIT 1 FOR UPDATE SKIP LOCKED)"
    )
    return _apply(prefix).replace(
        f"shard = :{prefix}shard", f"shard = COALESCE({preferred}, {any_free}, :{prefix}shard)"
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
APPLY_DELTA: dict[tuple[bool, bool], DriverStatement] = {
    (False, False): DriverStatement(text(_apply())),
    (True, False): DriverStatement(text(_apply() + _debit_limit())),
    (False, True): DriverStatement(text(_apply() + _credit_limit())),
    (True, True): DriverStatement(text(_apply() + _debit_limit() + _credit_limit())),
}

_ANY_ACCOUNT = "account_id = ANY(CAST(:account_ids AS VARCHAR[]))"
_IN_ACCOUNTS = "account_id IN :account_ids"


def _by_accounts(statement: str, sqlite: str | None = None) -> DriverStatement:
    """``statement`` names ``_ANY_ACCOUNT``; SQLite gets it with an expanding ``IN``."""
    return DriverStatement(
        text(statement),
        sqlite=text((sqlite or statement).replace(_ANY_ACCOUNT, _IN_ACCOUNTS)).bindparams(
            bindparam("account_ids", expanding=True)
        ),
    )


_SELECT_SHARDS = (
    "SELECT account_id, shard, debits_posted, credits_posted, debits_pending, credits_pending"
    f" FROM ledger_balances WHERE {_ANY_ACCOUNT}"
)
SELECT_SHARDS = _by_accounts(_SELECT_SHARDS + " ORDER BY account_id, shard")
# Locks are taken in (account_id, shard) order, the order every posting locks rows in.
# ``COLLATE "C"`` sorts by code point, as Python sorts the ids it locks one by one.
LOCK_SHARDS = _by_accounts(
    _SELECT_SHARDS + ' ORDER BY account_id COLLATE "C", shard FOR UPDATE',
    sqlite=_SELECT_SHARDS + " ORDER BY account_id, shard",
)
SUM_BALANCES = _by_accounts(
    "SELECT account_id, sum(debits_posted), sum(credits_posted), sum(debits_pending),"
    f" sum(credits_pending) FROM ledger_balances WHERE {_ANY_ACCOUNT} GROUP BY account_id"
)

_accounts = cast(Table, LedgerAccount.__table__)
# What the posting code needs of an account, in this order (``accounts._info_from_row``).
ACCOUNT_INFO_COLUMNS = (
    "id",
    "currency",
    "type",
    "code",
    "owner_type",
    "owner_id",
    "debits_must_not_exceed_credits",
    "credits_must_not_exceed_debits",
    "hot",
    "shard_count",
)
SELECT_ACCOUNTS = DriverStatement(
    text(
        f"SELECT {', '.join(ACCOUNT_INFO_COLUMNS)} FROM ledger_accounts"
        " WHERE id = ANY(CAST(:account_ids AS VARCHAR[]))"
    ),
    # typed columns: SQLite gives booleans back as 0 and 1
    sqlite=select(*(_accounts.c[name] for name in ACCOUNT_INFO_COLUMNS)).where(
        _accounts.c.id.in_(bindparam("account_ids", expanding=True))
    ),
)

_transfers = cast(Table, LedgerTransfer.__table__)
SELECT_TRANSFERS = DriverStatement(
    text(
        f"SELECT sequence, {', '.join(TRANSFER_COLUMNS)} FROM ledger_transfers"
        " WHERE id = ANY(CAST(:transfer_ids AS VARCHAR[]))"
    ),
    # typed columns: SQLite keeps datetimes as text and JSON as a string
    sqlite=select(_transfers.c.sequence, *(_transfers.c[name] for name in TRANSFER_COLUMNS)).where(
        _transfers.c.id.in_(bindparam("transfer_ids", expanding=True))
    ),
)


def _single_transfer_statement(first_limit: str) -> DriverStatement:
    """PostgreSQL: one transfer in ONE statement (one round trip), in lock order.

    The first account's update (with its limit test, if any) runs only if the transfer id
    is not taken yet; the insert only if that update happened; the second account's update
    only if the insert happened. So a refused transfer (limit, replay) writes nothing.
    The one case that needs undoing is a concurrent duplicate whose insert committed after
    our ``NOT EXISTS`` looked: then ``inserted`` is empty and the caller reverses the first
    update (see ``posting._post_single_postgresql``).
    """
    return DriverStatement(
        text(
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
        ).bindparams(*_TYPED_TRANSFER_PARAMETERS)
    )


# PostgreSQL only. Keyed by the first account's tested limits (at most one side is ever
# tested here).
SINGLE_TRANSFER_POSTGRESQL: dict[tuple[bool, bool], DriverStatement] = {
    (False, False): _single_transfer_statement(""),
    (True, False): _single_transfer_statement(_debit_limit("first_")),
    (False, True): _single_transfer_statement(_credit_limit("first_")),
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


def _batch_apply(*, with_limits: bool) -> str:
    """Add each (account, shard)'s summed change; ``with_limits``: only where the limits the
    caller flags (``tests_debits``, ``tests_credits``) still hold after it (the row as it is
    once its lock is granted)."""
    arrays = (
        "CAST(:account_id AS VARCHAR[]), CAST(:shard AS INTEGER[]),"
        " CAST(:debits_posted AS BIGINT[]), CAST(:credits_posted AS BIGINT[]),"
        " CAST(:debits_pending AS BIGINT[]), CAST(:credits_pending AS BIGINT[])"
    )
    columns = "account_id, shard, debits_posted, credits_posted, debits_pending, credits_pending"
    limits = ""
    if with_limits:
        arrays += ", CAST(:tests_debits AS BOOLEAN[]), CAST(:tests_credits AS BOOLEAN[])"
        columns += ", tests_debits, tests_credits"
        limits = (
            " AND (NOT d.tests_debits OR b.debits_posted + d.debits_posted + b.debits_pending"
            " + d.debits_pending <= b.credits_posted + d.credits_posted)"
            " AND (NOT d.tests_credits OR b.credits_posted + d.credits_posted + b.credits_pending"
            " + d.credits_pending <= b.debits_posted + d.debits_posted)"
        )
    return (
        "UPDATE ledger_balances AS b SET debits_posted = b.debits_posted + d.debits_posted,"
        " credits_posted = b.credits_posted + d.credits_posted,"
        " debits_pending = b.debits_pending + d.debits_pending,"
        " credits_pending = b.credits_pending + d.credits_pending"
        f" FROM unnest({arrays}) AS d({columns})"
        f" WHERE b.account_id = d.account_id AND b.shard = d.shard{limits}"
    )


# Gives the caller back its planner settings (see PREFER_INDEX_JOINS) inside a batch's write
# statement: this statement was planned before they changed, and a separate statement would
# be one more round trip while the batch's rows stay locked. In a one-time filter, which is
# evaluated once, before (and whether or not) rows come back.
_RESTORE_JOINS_CTE = (
    "restored AS (SELECT set_config('enable_hashjoin', CAST(:hashjoin AS TEXT), true),"
    " set_config('enable_mergejoin', CAST(:mergejoin AS TEXT), true))"
)
_AFTER_RESTORING = " WHERE (SELECT count(*) FROM restored) = 1"

# The batch's writes in ONE statement (one round trip while its rows are locked): insert the
# transfers, add each account's summed change, restore the planner settings. Every balance
# row it updates was locked by BATCH_LOCK_POSTGRESQL, so the update takes no new lock. If a
# concurrent transaction inserted one of the ids first, fewer ids come back and the caller
# rolls back its savepoint (which also undoes the settings).
BATCH_WRITE_POSTGRESQL = DriverStatement(
    text(
        f"WITH inserted AS ({_BATCH_INSERT}), applied AS ({_batch_apply(with_limits=False)}),"
        f" {_RESTORE_JOINS_CTE} SELECT id, sequence FROM inserted{_AFTER_RESTORING}"
    )
)

# The optimistic batch (``batch.py``): the whole batch in ONE statement with no lock taken
# before it, valid when testing each account's limit once on its summed change is the same
# as testing it transfer by transfer. It inserts every transfer and adds every summed change
# where the limits still hold. It returns a row per inserted transfer (id, sequence), then
# one last row (NULL, how many balance rows were updated). Fewer transfers or fewer balance
# rows than sent mean "not like this": the caller rolls back its savepoint and decides the
# batch transfer by transfer. The branches of UNION ALL run in order, so the update (which
# locks the balance rows) runs only once every transfer is inserted: the batch holds its
# row locks from its last step to its commit, not while it inserts. The update locks rows
# as its index nested loop meets them, in the order of the arrays, which the caller sorts
# in the common lock order.
BATCH_OPTIMISTIC_WRITE_POSTGRESQL = DriverStatement(
    text(
        f"WITH inserted AS ({_BATCH_INSERT}),"
        f" applied AS ({_batch_apply(with_limits=True)} RETURNING 1), {_RESTORE_JOINS_CTE}"
        " SELECT id, sequence FROM inserted"
        " UNION ALL SELECT CAST(NULL AS VARCHAR), (SELECT count(*) FROM applied) FROM restored"
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
