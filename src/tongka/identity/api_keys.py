"""API keys: shown once, stored as a keyed hash, revocable, last use recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, bindparam, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.crypto import keyed_hash, random_token
from tongka.db.statements import DriverStatement, fetch_all
from tongka.errors import InvalidRequest
from tongka.identity.common import (
    flush_unique,
    get_object,
    identity_event,
    require_active_merchant,
)
from tongka.identity.crypto import IdentityKeys
from tongka.identity.models import (
    ApiKey,
    ApiKeyRole,
    Merchant,
    MerchantStatus,
    PlatformRole,
)
from tongka.identity.principal import Principal, PrincipalKind, expand_role
from tongka.identity.stores import get_store
from tongka.ids import new_id

log = structlog.get_logger(__name__)

API_KEY_PREFIX = "tk_live_"
API_KEY_RANDOM_LENGTH = 40  # about 238 bits
API_KEY_VISIBLE_LENGTH = len(API_KEY_PREFIX) + 6
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one last_used_at write a minute per key


@dataclass(frozen=True)
class IssuedApiKey:
    """A new key and its secret: the only moment the secret exists outside the caller."""

    api_key: ApiKey
    secret: str


def new_api_key_secret() -> str:
    return API_KEY_PREFIX + random_token(API_KEY_RANDOM_LENGTH)


async def create_api_key(
    session: AsyncSession,
    keys: IdentityKeys,
    *,
    name: str,
    role: str,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    store_id: str | None = None,
    secret: str | None = None,
) -> IssuedApiKey:
    """A merchant key (``merchant_id`` set; role full|cashier) or a platform operator key.

    ``secret`` is only passed by the demo loader (deterministic demo keys); everyone else
    gets a fresh random one.
    """
    if merchant_id is None:
        if role not in PlatformRole.__members__.values():
            raise InvalidRequest(
                f"A platform key's role is one of {', '.join(PlatformRole)}.",
                code="invalid_role",
                param="role",
                details={"roles": list(PlatformRole)},
            )
        if store_id is not None:
            raise InvalidRequest(
                "Platform keys have no store.", code="platform_has_no_store", param="store_id"
            )
    else:
        if role not in ApiKeyRole.__members__.values():
            raise InvalidRequest(
                f"A merchant key's role is one of {', '.join(ApiKeyRole)}.",
                code="invalid_role",
                param="role",
                details={"roles": list(ApiKeyRole)},
            )
        await require_active_merchant(session, merchant_id)
        if store_id is not None:
            await get_store(session, store_id, merchant_id=merchant_id)
    secret = secret or new_api_key_secret()
    api_key = ApiKey(
        id=new_id("key"),
        kind=PrincipalKind.PLATFORM if merchant_id is None else PrincipalKind.MERCHANT,
        merchant_id=merchant_id,
        store_id=store_id,
        name=name,
        role=role,
        secret_hash=keyed_hash(keys.api_key_hash, secret),
        prefix=secret[:API_KEY_VISIBLE_LENGTH],
        created_by=actor,
        created_at=now,
    )
    session.add(api_key)
    await flush_unique(session, "API key", "secret")
    await identity_event(
        session,
        "api_key.created",
        api_key,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"name": name, "role": role, "store_id": store_id, "prefix": api_key.prefix},
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


async def find_api_key(session: AsyncSession, keys: IdentityKeys, secret: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.secret_hash == keyed_hash(keys.api_key_hash, secret))
    )


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey:
    api_key: ApiKey = await get_object(session, ApiKey, key_id, "API key")
    return api_key


def api_keys_query(merchant_id: str | None) -> Select[Any]:
    statement = select(ApiKey)
    if merchant_id is not None:
        statement = statement.where(ApiKey.merchant_id == merchant_id)
    return statement


def available_actions(api_key: ApiKey) -> list[str]:
    """A key can be revoked while it is active; a revoked key stays revoked."""
    return [] if api_key.revoked_at is not None else ["revoke"]


async def revoke_api_key(
    session: AsyncSession, key_id: str, *, actor: str, now: datetime
) -> ApiKey:
    """Revoke a key for good. Revoking a revoked key changes nothing and is not an error."""
    api_key = await get_api_key(session, key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        await session.flush()
        await identity_event(
            session,
            "api_key.revoked",
            api_key,
            actor=actor,
            now=now,
            merchant_id=api_key.merchant_id,
            data={"prefix": api_key.prefix},
        )
    return api_key


def principal_for_api_key(api_key: ApiKey) -> Principal:
    return _principal(api_key.id, api_key.kind, api_key.role, api_key.merchant_id, api_key.store_id)


def _principal(
    key_id: str, kind: str, role: str, merchant_id: str | None, store_id: str | None
) -> Principal:
    return Principal(
        kind=PrincipalKind(kind),
        actor=f"api_key:{key_id}",
        roles=expand_role(role),
        merchant_id=merchant_id,
        store_id=store_id,
    )


async def authenticate_api_key(
    session: AsyncSession, keys: IdentityKeys, secret: str, *, now: datetime
) -> Principal | None:
    """The caller a key stands for, or None (unknown, revoked, or merchant not active).

    ``last_used_at`` is written at most once a minute per key, by a conditional UPDATE, so
    the hot path reads without writing.
    """
    found = await authenticate_api_keys(session, keys, [secret], now=now)
    return found[secret]


# The keys and their merchants' status in one round trip, a statement compiled once (the
# hot path: every request with a key; the redemption lane's batch asks for many at once).
_KEY_COLUMNS = (
    ApiKey.id,
    ApiKey.kind,
    ApiKey.role,
    ApiKey.merchant_id,
    ApiKey.store_id,
    ApiKey.secret_hash,
    ApiKey.revoked_at,
    ApiKey.last_used_at,
    Merchant.status,
)
KEYS_BY_HASH = DriverStatement(
    text(
        "SELECT k.id, k.kind, k.role, k.merchant_id, k.store_id, k.secret_hash,"
        " k.revoked_at, k.last_used_at, m.status"
        " FROM api_keys AS k LEFT JOIN merchants AS m ON m.id = k.merchant_id"
        " WHERE k.secret_hash = ANY(:hashes)"
    ),
    sqlite=select(*_KEY_COLUMNS)
    .outerjoin(Merchant, Merchant.id == ApiKey.merchant_id)
    .where(ApiKey.secret_hash.in_(bindparam("hashes", expanding=True))),
)


async def authenticate_api_keys(
    session: AsyncSession, keys: IdentityKeys, secrets: Sequence[str], *, now: datetime
) -> dict[str, Principal | None]:
    """``authenticate_api_key`` for many keys in one round trip (the redemption lane's
    batch; one key for every other request): each secret's caller, or None."""
    hashes = {
        secret: keyed_hash(keys.api_key_hash, secret)
        for secret in secrets
        if secret.startswith(API_KEY_PREFIX)
    }
    wanted = sorted(set(hashes.values()))
    rows = await fetch_all(session, KEYS_BY_HASH, {"hashes": wanted}) if wanted else []
    by_hash = {row[5]: row for row in rows}
    answers: dict[str, Principal | None] = {}
    touched: set[str] = set()
    for secret in secrets:
        row = by_hash.get(hashes.get(secret, ""))
        if row is None:
            answers[secret] = None
            continue
        key_id, kind, role, merchant_id, store_id, _, revoked_at, last_used_at, status = row
        if revoked_at is not None or (merchant_id is not None and status != MerchantStatus.ACTIVE):
            answers[secret] = None
            continue
        if key_id not in touched:
            touched.add(key_id)
            await _note_use(session, key_id, last_used_at, now)
        answers[secret] = _principal(key_id, kind, role, merchant_id, store_id)
    return answers


async def _note_use(
    session: AsyncSession, key_id: str, last_used_at: datetime | None, now: datetime
) -> None:
    """``last_used_at``, written at most once a minute per key by a conditional UPDATE, so
    the hot path reads without writing. A row another transaction is writing is skipped
    (``SKIP LOCKED``): that one notes the use, and this request must not queue behind the
    other's whole transaction for a timestamp — once a minute, every concurrent request of
    a busy key did."""
    threshold = now - LAST_USED_RESOLUTION
    if last_used_at is None or ensure_utc(last_used_at) < threshold:
        free = (
            select(ApiKey.id)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < threshold),
            )
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == free)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
