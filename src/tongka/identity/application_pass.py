"""A rejected applicant's pass to its own application, and nothing else.

A merchant that was rejected is not active, so its admin cannot open a console session
(every page, API call and policy check assumes an active merchant). Instead, logging in
with the right password hands out this pass: a short-lived token, signed with a key of
its own, naming the user and when it expires. The application page is the only page that
reads it. Why not a session or an e-mailed link: ``docs/decisions/0009-*``.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tongka.crypto import keyed_hash
from tongka.identity.crypto import IdentityKeys
from tongka.identity.models import MerchantRole, User, UserStatus

APPLICATION_PASS_LIFETIME = timedelta(minutes=30)


def _signature(keys: IdentityKeys, user: User, expires: int) -> str:
    # bound to the password hash: a password change or reset voids every pass handed out
    return keyed_hash(keys.application_pass, f"{user.id}|{expires}|{user.password_hash}")


def issue_application_pass(keys: IdentityKeys, user: User, *, now: datetime) -> str:
    """The pass of a merchant admin whose login was refused as ``merchant_rejected``."""
    expires = int((now + APPLICATION_PASS_LIFETIME).timestamp())
    return f"{user.id}.{expires}.{_signature(keys, user, expires)}"


async def resolve_application_pass(
    session: AsyncSession, keys: IdentityKeys, token: str, *, now: datetime
) -> User | None:
    """The merchant admin the pass belongs to, or None if it is forged, expired, or its
    user can no longer use it (disabled, password changed, no longer an admin)."""
    user_id, _, rest = token.partition(".")
    expires_text, _, signature = rest.partition(".")
    if not expires_text.isdigit() or not signature:
        return None
    expires = int(expires_text)
    if datetime.fromtimestamp(expires, UTC) <= now:
        return None
    user = await session.get(User, user_id)
    if user is None or user.merchant_id is None:
        return None
    if not hmac.compare_digest(_signature(keys, user, expires), signature):
        return None
    if user.status != UserStatus.ACTIVE or user.role != MerchantRole.MERCHANT_ADMIN:
        return None
    return user
