"""Reading the ledger: balances (exact sums over shards), transfers, an account's history."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, union_all

from tongka.db.statements import AnyUnitOfWork, UnitOfWork, fetch_all
from tongka.ledger import statements
from tongka.ledger.accounts import load_accounts
from tongka.ledger.errors import InvalidTransfer, TransferNotFound
from tongka.ledger.models import LedgerAccount, LedgerTransfer
from tongka.ledger.types import (
    AccountCode,
    AccountSpec,
    AccountType,
    Balance,
    Transfer,
    TransferKind,
)

MAX_PAGE_SIZE = 1000
transfers_table = cast(Table, LedgerTransfer.__table__)


def transfer_from_row(row: Any) -> Transfer:
    """A ``Transfer`` from a row of ``ledger_transfers``: an ORM object, a Core row, or a
    row as the driver gives it (asyncpg record; JSON still text)."""
    if hasattr(row, "_mapping"):
        mapping = row._mapping

        def value(name: str) -> Any:
            return mapping[name]

    elif hasattr(row, "keys"):  # an asyncpg record

        def value(name: str) -> Any:
            return row[name]

    else:

        def value(name: str) -> Any:
            return getattr(row, "transfer_metadata" if name == "metadata" else name)

    metadata = value("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return Transfer(
        transfer_id=value("id"),
        sequence=value("sequence"),
        kind=TransferKind(value("kind")),
        debit_account_id=value("debit_account_id"),
        credit_account_id=value("credit_account_id"),
        amount=value("amount"),
        currency=value("currency"),
        code=value("code"),
        reference=value("reference"),
        metadata=metadata or {},
        pending_id=value("pending_id"),
        expires_at=value("expires_at"),
        created_at=value("created_at"),
        timeout_seconds=value("timeout_seconds"),
    )


async def find_transfers(
    session: AnyUnitOfWork, transfer_ids: Iterable[str]
) -> dict[str, Transfer]:
    """The transfers among ``transfer_ids`` that exist, by id."""
    ids = list(dict.fromkeys(transfer_ids))
    if not ids:
        return {}
    rows = await fetch_all(session, statements.SELECT_TRANSFERS, {"transfer_ids": ids})
    found = (transfer_from_row(row) for row in rows)
    return {transfer.transfer_id: transfer for transfer in found}


async def get_transfer(session: AnyUnitOfWork, transfer_id: str) -> Transfer:
    found = await find_transfers(session, [transfer_id])
    if transfer_id not in found:
        raise TransferNotFound(f"ledger transfer {transfer_id} does not exist", param="transfer_id")
    return found[transfer_id]


async def get_balances(session: AnyUnitOfWork, account_ids: Iterable[str]) -> dict[str, Balance]:
    """Exact balances (the sum over shards); ``AccountNotFound`` if any account is missing."""
    accounts = await load_accounts(session, account_ids)
    if not accounts:
        return {}
    rows = await fetch_all(session, statements.SUM_BALANCES, {"account_ids": list(accounts)})
    sums = {row[0]: [int(total) for total in row[1:]] for row in rows}
    balances = {}
    for account_id, info in accounts.items():
        debits_posted, credits_posted, debits_pending, credits_pending = sums.get(
            account_id, [0, 0, 0, 0]
        )
        balances[account_id] = Balance(
            account_id=account_id,
            currency=info.currency,
            type=AccountType(info.spec.type),
            debits_posted=debits_posted,
            credits_posted=credits_posted,
            debits_pending=debits_pending,
            credits_pending=credits_pending,
        )
    return balances


async def get_balance(session: AnyUnitOfWork, account_id: str) -> Balance:
    return (await get_balances(session, [account_id]))[account_id]


async def list_transfers(
    session: UnitOfWork,
    account_id: str,
    *,
    limit: int = 50,
    after_sequence: int | None = None,
) -> list[Transfer]:
    """An account's transfers (either side), oldest first; page with ``after_sequence``.

    Two index range scans (debit side, credit side), each already in sequence order, merged:
    this stays fast however long the account's history is.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidTransfer(
            f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", param="limit"
        )
    await load_accounts(session, [account_id])
    after = after_sequence if after_sequence is not None else 0
    sides = []
    for column in (transfers_table.c.debit_account_id, transfers_table.c.credit_account_id):
        side = (
            select(transfers_table)
            .where(column == account_id, transfers_table.c.sequence > after)
            .order_by(transfers_table.c.sequence)
            .limit(limit)
            .subquery()
        )
        sides.append(select(side))
    merged = union_all(*sides).subquery()
    rows = await session.execute(select(merged).order_by(merged.c.sequence).limit(limit))
    return [transfer_from_row(row) for row in rows]


async def list_transfers_created(
    session: UnitOfWork,
    account_id: str,
    *,
    created_from: datetime | None,
    created_before: datetime,
    limit: int = 500,
    after_sequence: int | None = None,
) -> list[Transfer]:
    """An account's transfers created in ``[created_from, created_before)``, oldest first;
    page with ``after_sequence``. For periodic readers (settlement): the window starts at
    the first sequence created since ``created_from`` (the ``created_at`` index), so a read
    costs the window, not the account's whole history."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidTransfer(
            f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", param="limit"
        )
    await load_accounts(session, [account_id])
    after = after_sequence if after_sequence is not None else 0
    if created_from is not None:
        first = await session.scalar(
            select(func.min(transfers_table.c.sequence)).where(
                transfers_table.c.created_at >= created_from
            )
        )
        if first is None:
            return []
        after = max(after, int(first) - 1)
    sides = []
    for column in (transfers_table.c.debit_account_id, transfers_table.c.credit_account_id):
        conditions = [
            column == account_id,
            transfers_table.c.sequence > after,
            transfers_table.c.created_at < created_before,
        ]
        if created_from is not None:
            conditions.append(transfers_table.c.created_at >= created_from)
        side = (
            select(transfers_table)
            .where(*conditions)
            .order_by(transfers_table.c.sequence)
            .limit(limit)
            .subquery()
        )
        sides.append(select(side))
    merged = union_all(*sides).subquery()
    rows = await session.execute(select(merged).order_by(merged.c.sequence).limit(limit))
    return [transfer_from_row(row) for row in rows]


async def list_accounts(
    session: UnitOfWork, code: AccountCode | str, *, owner_id: str | None = None
) -> list[AccountSpec]:
    """The accounts opened for ``code`` (e.g. every merchant payable), by id."""
    table = cast(Table, LedgerAccount.__table__)
    query = select(table).where(table.c.code == str(code))
    if owner_id is not None:
        query = query.where(table.c.owner_id == owner_id)
    rows = (await session.execute(query.order_by(table.c.id))).mappings().all()
    return [
        AccountSpec(
            account_id=row["id"],
            currency=row["currency"],
            type=AccountType(row["type"]),
            code=row["code"],
            owner_type=row["owner_type"],
            owner_id=row["owner_id"],
            debits_must_not_exceed_credits=row["debits_must_not_exceed_credits"],
            credits_must_not_exceed_debits=row["credits_must_not_exceed_debits"],
            hot=row["hot"],
        )
        for row in rows
    ]
