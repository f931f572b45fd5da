"""Identity use cases: onboarding, users and login, stores, terminals, consumers, API keys.

One module per section; this module gathers their public functions so that callers write
``from tongka.identity import service as identity`` and ``identity.create_store(...)``.

Every function takes the caller's ``AsyncSession`` and ``now`` and never commits; every
change records an event in the same transaction. Functions that need key material take an
``IdentityKeys`` (derived from the platform's root secret).
"""

from __future__ import annotations

from tongka.identity.api_keys import (
    API_KEY_PREFIX,
    API_KEY_RANDOM_LENGTH,
    API_KEY_VISIBLE_LENGTH,
    LAST_USED_RESOLUTION,
    IssuedApiKey,
    api_keys_query,
    authenticate_api_key,
    create_api_key,
    find_api_key,
    get_api_key,
    new_api_key_secret,
    principal_for_api_key,
    revoke_api_key,
)
from tongka.identity.common import (
    check_password_strength,
    get_merchant,
    normalize_email,
    require_active_merchant,
)
from tongka.identity.consumers import (
    consumers_query,
    create_consumer,
    find_consumer_by_phone,
    get_consumer,
    principal_for_consumer,
    set_kyc_level,
)
from tongka.identity.merchants import (
    MerchantRegistration,
    SettlementAccount,
    masked_account_number,
    merchants_query,
    register_merchant,
    reveal_settlement_account_number,
    review_merchant,
)
from tongka.identity.sessions import (
    CONSUMER_TOKEN_PREFIX,
    LOCKOUT,
    MAX_FAILED_LOGINS,
    SESSION_IDLE_TIMEOUT,
    SESSION_MAX_AGE,
    SESSION_TOUCH_RESOLUTION,
    LoginResult,
    SignedIn,
    csrf_token_for,
    csrf_token_matches,
    end_console_session,
    end_session,
    login,
    open_consumer_session,
    resolve_console_session,
    resolve_session,
)
from tongka.identity.stores import (
    COORDINATE_PLACES,
    create_store,
    create_terminal,
    get_store,
    get_terminal,
    stores_query,
    terminals_query,
)
from tongka.identity.users import (
    create_user,
    get_user,
    principal_for_user,
    users_query,
)

__all__ = [
    "API_KEY_PREFIX",
    "API_KEY_RANDOM_LENGTH",
    "API_KEY_VISIBLE_LENGTH",
    "CONSUMER_TOKEN_PREFIX",
    "COORDINATE_PLACES",
    "IssuedApiKey",
    "LAST_USED_RESOLUTION",
    "LOCKOUT",
    "LoginResult",
    "MAX_FAILED_LOGINS",
    "MerchantRegistration",
    "SESSION_IDLE_TIMEOUT",
    "SESSION_MAX_AGE",
    "SESSION_TOUCH_RESOLUTION",
    "SettlementAccount",
    "SignedIn",
    "api_keys_query",
    "authenticate_api_key",
    "check_password_strength",
    "consumers_query",
    "create_api_key",
    "create_consumer",
    "create_store",
    "create_terminal",
    "create_user",
    "csrf_token_for",
    "csrf_token_matches",
    "end_console_session",
    "end_session",
    "find_api_key",
    "find_consumer_by_phone",
    "get_api_key",
    "get_consumer",
    "get_merchant",
    "get_store",
    "get_terminal",
    "get_user",
    "login",
    "masked_account_number",
    "merchants_query",
    "new_api_key_secret",
    "normalize_email",
    "open_consumer_session",
    "principal_for_api_key",
    "principal_for_consumer",
    "principal_for_user",
    "register_merchant",
    "require_active_merchant",
    "resolve_console_session",
    "resolve_session",
    "reveal_settlement_account_number",
    "review_merchant",
    "revoke_api_key",
    "set_kyc_level",
    "stores_query",
    "terminals_query",
    "users_query",
]
