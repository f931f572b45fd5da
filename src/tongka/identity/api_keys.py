"""API keys: shown once, stored as a keyed hash, revocable, last use recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.crypto import keyed_hash, random_token
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
    return Principal(
        kind=PrincipalKind(api_key.kind),
        actor=f"api_key:{api_key.id}",
        roles=expand_role(api_key.role),
        merchant_id=api_key.merchant_id,
        store_id=api_key.store_id,
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
    # the keys and their merchants' status in one round trip (the hot path: every redemption)
    rows = (
        (
            await session.execute(
                select(ApiKey, Merchant.status)
                .outerjoin(Merchant, Merchant.id == ApiKey.merchant_id)
                .where(ApiKey.secret_hash.in_(sorted(set(hashes.values()))))
            )
        ).all()
        if hashes
        else []
    )
    by_hash = {api_key.secret_hash: (api_key, status) for api_key, status in rows}
    answers: dict[str, Principal | None] = {}
    touched: set[str] = set()
    for secret in secrets:
        api_key, merchant_status = by_hash.get(hashes.get(secret, ""), (None, None))
        if api_key is None or api_key.revoked_at is not None:
            answers[secret] = None
            continue
        if api_key.merchant_id is not None and merchant_status != MerchantStatus.ACTIVE:
            answers[secret] = None
            continue
        if api_key.id not in touched:
            touched.add(api_key.id)
            await _note_use(session, api_key, now)
        answers[secret] = principal_for_api_key(api_key)
    return answers


async def _note_use(session: AsyncSession, api_key: ApiKey, now: datetime) -> None:
    """``last_used_at``, written at most once a minute per key by a conditional UPDATE, so
    the hot path reads without writing."""
    threshold = now - LAST_USED_RESOLUTION
    if api_key.last_used_at is None or ensure_utc(api_key.last_used_at) < threshold:
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == api_key.id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < threshold),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
