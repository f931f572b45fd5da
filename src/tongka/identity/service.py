"""Identity use cases: onboarding, users and login, stores, terminals, consumers, API keys.

Every function takes the caller's ``AsyncSession`` and ``now`` and never commits; every
change records an event in the same transaction. Functions that need key material take an
``IdentityKeys`` (derived from the platform's root secret).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.clock import ensure_utc
from tongka.crypto import decrypt, encrypt, keyed_hash, random_token
from tongka.errors import InvalidRequest
from tongka.events import record_event
from tongka.identity.credit_code import credit_code_problem, normalize_credit_code
from tongka.identity.crypto import IdentityKeys
from tongka.identity.errors import (
    AlreadyExists,
    IllegalTransition,
    MerchantNotActive,
    ObjectNotFound,
)
from tongka.identity.models import (
    ApiKey,
    ApiKeyRole,
    ConsoleSession,
    Consumer,
    KycLevel,
    Merchant,
    MerchantRole,
    MerchantStatus,
    PlatformRole,
    Store,
    Terminal,
    User,
    UserKind,
    UserStatus,
)
from tongka.identity.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from tongka.identity.principal import Principal, PrincipalKind, expand_role
from tongka.identity.sms import canonical_phone
from tongka.ids import new_id

log = structlog.get_logger(__name__)

API_KEY_PREFIX = "tk_live_"
API_KEY_RANDOM_LENGTH = 40  # about 238 bits
API_KEY_VISIBLE_LENGTH = len(API_KEY_PREFIX) + 6
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one last_used_at write a minute per key

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_IDLE_TIMEOUT = timedelta(hours=2)
SESSION_MAX_AGE = timedelta(hours=12)
SESSION_TOUCH_RESOLUTION = timedelta(minutes=1)
CONSUMER_TOKEN_PREFIX = "tk_con_"  # consumer session tokens (cookie and API bearer)


# --- helpers ---------------------------------------------------------------------------


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            code="password_too_short",
            param="password",
        )


async def _flush_unique(session: AsyncSession, what: str, param: str) -> None:
    """Flush; a unique-constraint race becomes a clean 409 instead of a server error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise AlreadyExists(f"A {what} with this {param} already exists.", param=param) from exc


async def _get(session: AsyncSession, model: type[Any], object_id: str, what: str) -> Any:
    """The row, or not found; the message is the same one another tenant's object gets, so
    a 404 never tells whether an id exists."""
    found = await session.get(model, object_id)
    if found is None:
        raise ObjectNotFound(f"No such {what}.")
    return found


async def _event(
    session: AsyncSession,
    type: str,
    obj: Any,
    *,
    actor: str,
    now: datetime,
    merchant_id: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    await record_event(
        session,
        type=type,
        object_type=type.split(".", 1)[0],
        object_id=obj.id,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data=data,
    )


# --- users --------------------------------------------------------------------------------


async def _ensure_email_free(session: AsyncSession, email: str) -> None:
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AlreadyExists("A user with this email already exists.", param="email")


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    role: str,
    password: str,
    actor: str,
    now: datetime,
    merchant_id: str | None = None,
    store_id: str | None = None,
) -> User:
    """A console user: a platform operator when ``merchant_id`` is None, else merchant staff.

    Merchant staff may be tied to one of the merchant's stores (cashiers usually are).
    """
    email = normalize_email(email)
    _check_password_strength(password)
    if merchant_id is None:
        if role not in PlatformRole.__members__.values():
            raise InvalidRequest(
                f"A platform user's role is one of {', '.join(PlatformRole)}.", param="role"
            )
        if store_id is not None:
            raise InvalidRequest("Platform users have no store.", param="store_id")
    else:
        if role not in MerchantRole.__members__.values():
            raise InvalidRequest(
                f"A merchant user's role is one of {', '.join(MerchantRole)}.", param="role"
            )
        await _get(session, Merchant, merchant_id, "merchant")
        if store_id is not None:
            await get_store(session, store_id, merchant_id=merchant_id)
    await _ensure_email_free(session, email)
    user = User(
        id=new_id("usr"),
        kind=UserKind.PLATFORM if merchant_id is None else UserKind.MERCHANT,
        merchant_id=merchant_id,
        store_id=store_id,
        email=email,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        status=UserStatus.ACTIVE,
        failed_login_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await _flush_unique(session, "user", "email")
    await _event(
        session,
        "user.created",
        user,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"email": email, "role": role, "kind": user.kind, "store_id": store_id},
    )
    return user


async def get_user(session: AsyncSession, user_id: str) -> User:
    user: User = await _get(session, User, user_id, "user")
    return user


def users_query(merchant_id: str | None) -> Select[Any]:
    """All users (platform) or one merchant's staff."""
    statement = select(User)
    if merchant_id is not None:
        statement = statement.where(User.merchant_id == merchant_id)
    return statement


def principal_for_user(user: User) -> Principal:
    return Principal(
        kind=PrincipalKind(user.kind),
        actor=f"user:{user.id}",
        roles=expand_role(user.role),
        merchant_id=user.merchant_id,
        store_id=user.store_id,
    )


# --- merchants and onboarding -------------------------------------------------------------


@dataclass(frozen=True)
class SettlementAccount:
    bank_name: str
    account_name: str
    account_number: str


@dataclass(frozen=True)
class MerchantRegistration:
    """What a merchant submits to open an account (开户与入驻)."""

    legal_name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    contact_email: str
    admin_email: str
    admin_password: str
    admin_display_name: str | None = None
    settlement_account: SettlementAccount | None = None


def _validated_credit_code(code: str) -> str:
    normalized = normalize_credit_code(code)
    problem = credit_code_problem(normalized)
    if problem:
        raise InvalidRequest(
            f"The unified social credit code {problem}.",
            code="invalid_credit_code",
            param="credit_code",
        )
    return normalized


def _set_settlement_account(
    merchant: Merchant, account: SettlementAccount, keys: IdentityKeys
) -> None:
    number = account.account_number.replace(" ", "")
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise InvalidRequest(
            "A bank account number is 8 to 32 digits.",
            code="invalid_bank_account",
            param="settlement_account.account_number",
        )
    merchant.settlement_bank_name = account.bank_name
    merchant.settlement_account_name = account.account_name
    merchant.settlement_account_number_encrypted = encrypt(
        keys.bank_account, number, associated_data=merchant.id
    )
    merchant.settlement_account_last4 = number[-4:]


def reveal_settlement_account_number(merchant: Merchant, keys: IdentityKeys) -> str | None:
    """The clear account number, for settlement payouts only (never shown or logged)."""
    if merchant.settlement_account_number_encrypted is None:
        return None
    return decrypt(
        keys.bank_account,
        merchant.settlement_account_number_encrypted,
        associated_data=merchant.id,
    )


def masked_account_number(last4: str | None) -> str | None:
    return None if last4 is None else f"**** **** **** {last4}"


async def register_merchant(
    session: AsyncSession,
    keys: IdentityKeys,
    registration: MerchantRegistration,
    *,
    now: datetime,
    actor: str = "public",
) -> tuple[Merchant, User]:
    """Create a merchant pending review and its first ``merchant_admin`` user."""
    credit_code = _validated_credit_code(registration.credit_code)
    _check_password_strength(registration.admin_password)
    if await session.scalar(select(Merchant.id).where(Merchant.credit_code == credit_code)):
        raise AlreadyExists(
            "A merchant with this credit code is already registered.", param="credit_code"
        )
    await _ensure_email_free(session, normalize_email(registration.admin_email))
    merchant = Merchant(
        id=new_id("mch"),
        legal_name=registration.legal_name.strip(),
        credit_code=credit_code,
        contact_name=registration.contact_name,
        contact_phone=registration.contact_phone,
        contact_email=normalize_email(registration.contact_email),
        status=MerchantStatus.PENDING_REVIEW,
        created_at=now,
        updated_at=now,
    )
    if registration.settlement_account is not None:
        _set_settlement_account(merchant, registration.settlement_account, keys)
    session.add(merchant)
    await _flush_unique(session, "merchant", "credit_code")
    await _event(
        session,
        "merchant.registered",
        merchant,
        actor=actor,
        now=now,
        merchant_id=merchant.id,
        data={"legal_name": merchant.legal_name, "credit_code": credit_code},
    )
    admin = await create_user(
        session,
        email=registration.admin_email,
        display_name=registration.admin_display_name or registration.contact_name,
        role=MerchantRole.MERCHANT_ADMIN,
        password=registration.admin_password,
        actor=actor,
        now=now,
        merchant_id=merchant.id,
    )
    return merchant, admin


async def get_merchant(session: AsyncSession, merchant_id: str) -> Merchant:
    merchant: Merchant = await _get(session, Merchant, merchant_id, "merchant")
    return merchant


def merchants_query(
    merchant_id: str | None = None, status: MerchantStatus | None = None
) -> Select[Any]:
    statement = select(Merchant)
    if merchant_id is not None:
        statement = statement.where(Merchant.id == merchant_id)
    if status is not None:
        statement = statement.where(Merchant.status == status)
    return statement


async def require_active_merchant(session: AsyncSession, merchant_id: str) -> Merchant:
    """The merchant, if it may do business now; other parts call this before acting for one."""
    merchant = await get_merchant(session, merchant_id)
    if merchant.status != MerchantStatus.ACTIVE:
        raise MerchantNotActive(
            f"Merchant {merchant_id} is {merchant.status}; only active merchants can do business.",
            param="merchant_id",
        )
    return merchant


# Which review decisions are allowed from which status.
_TRANSITIONS: dict[str, tuple[set[str], MerchantStatus]] = {
    "approve": ({MerchantStatus.PENDING_REVIEW, MerchantStatus.SUSPENDED}, MerchantStatus.ACTIVE),
    "reject": ({MerchantStatus.PENDING_REVIEW}, MerchantStatus.REJECTED),
    "suspend": ({MerchantStatus.ACTIVE}, MerchantStatus.SUSPENDED),
}
_EVENT_OF_DECISION = {"approve": "approved", "reject": "rejected", "suspend": "suspended"}


async def review_merchant(
    session: AsyncSession,
    merchant_id: str,
    decision: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> Merchant:
    """Approve (activates; also lifts a suspension), reject (with a reason) or suspend."""
    allowed_from, target = _TRANSITIONS[decision]
    merchant = await get_merchant(session, merchant_id)
    if merchant.status not in allowed_from:
        raise IllegalTransition(
            f"Cannot {decision} a merchant that is {merchant.status}.", param="status"
        )
    if decision == "reject" and not (reason and reason.strip()):
        raise InvalidRequest("A rejection needs a reason.", param="reason")
    previous = merchant.status
    merchant.status = target
    merchant.reviewed_by = actor
    merchant.reviewed_at = now
    merchant.rejection_reason = reason if decision == "reject" else None
    merchant.updated_at = now
    await session.flush()
    await _event(
        session,
        f"merchant.{_EVENT_OF_DECISION[decision]}",
        merchant,
        actor=actor,
        now=now,
        merchant_id=merchant.id,
        data={"previous_status": previous, "status": target, "reason": reason},
    )
    return merchant


# --- stores and terminals -----------------------------------------------------------------


COORDINATE_PLACES = Decimal("0.000001")  # six decimal places of a degree: about 0.1 m


def _coordinate(value: Decimal | None, limit: int, param: str) -> Decimal | None:
    """The coordinate as stored (six places), or a clear error when out of range."""
    if value is None:
        return None
    if not -limit <= value <= limit:
        raise InvalidRequest(f"{param} must be between -{limit} and {limit}.", param=param)
    return value.quantize(COORDINATE_PLACES)


async def create_store(
    session: AsyncSession,
    *,
    merchant_id: str,
    name: str,
    address: str,
    city: str,
    actor: str,
    now: datetime,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> Store:
    await require_active_merchant(session, merchant_id)
    latitude = _coordinate(latitude, 90, "latitude")
    longitude = _coordinate(longitude, 180, "longitude")
    store = Store(
        id=new_id("sto"),
        merchant_id=merchant_id,
        name=name,
        address=address,
        city=city,
        latitude=latitude,
        longitude=longitude,
        status="active",
        created_at=now,
    )
    session.add(store)
    await session.flush()
    await _event(
        session,
        "store.created",
        store,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"name": name, "city": city},
    )
    return store


async def get_store(session: AsyncSession, store_id: str, *, merchant_id: str | None) -> Store:
    """The store; with ``merchant_id`` it must belong to that merchant (else not found)."""
    store: Store = await _get(session, Store, store_id, "store")
    if merchant_id is not None and store.merchant_id != merchant_id:
        raise ObjectNotFound("No such store.")
    return store


def stores_query(merchant_id: str | None) -> Select[Any]:
    statement = select(Store)
    if merchant_id is not None:
        statement = statement.where(Store.merchant_id == merchant_id)
    return statement


async def create_terminal(
    session: AsyncSession,
    *,
    merchant_id: str,
    store_id: str,
    device_id: str,
    actor: str,
    now: datetime,
    name: str | None = None,
) -> Terminal:
    await require_active_merchant(session, merchant_id)
    await get_store(session, store_id, merchant_id=merchant_id)
    duplicate = await session.scalar(
        select(Terminal.id).where(
            Terminal.merchant_id == merchant_id, Terminal.device_id == device_id
        )
    )
    if duplicate is not None:
        raise AlreadyExists(
            "This merchant already has a terminal with this device id.", param="device_id"
        )
    terminal = Terminal(
        id=new_id("trm"),
        merchant_id=merchant_id,
        store_id=store_id,
        device_id=device_id,
        name=name,
        status="active",
        created_at=now,
    )
    session.add(terminal)
    await _flush_unique(session, "terminal", "device_id")
    await _event(
        session,
        "terminal.created",
        terminal,
        actor=actor,
        now=now,
        merchant_id=merchant_id,
        data={"store_id": store_id, "device_id": device_id},
    )
    return terminal


async def get_terminal(session: AsyncSession, terminal_id: str) -> Terminal:
    terminal: Terminal = await _get(session, Terminal, terminal_id, "terminal")
    return terminal


def terminals_query(merchant_id: str | None, store_id: str | None = None) -> Select[Any]:
    statement = select(Terminal)
    if merchant_id is not None:
        statement = statement.where(Terminal.merchant_id == merchant_id)
    if store_id is not None:
        statement = statement.where(Terminal.store_id == store_id)
    return statement


# --- consumers ----------------------------------------------------------------------------


async def create_consumer(
    session: AsyncSession,
    *,
    phone: str,
    actor: str,
    now: datetime,
    display_name: str | None = None,
    kyc_level: KycLevel = KycLevel.NONE,
) -> Consumer:
    phone = canonical_phone(phone)
    if await session.scalar(select(Consumer.id).where(Consumer.phone == phone)) is not None:
        raise AlreadyExists("A consumer with this phone number already exists.", param="phone")
    consumer = Consumer(
        id=new_id("con"),
        phone=phone,
        display_name=display_name,
        kyc_level=int(kyc_level),
        created_at=now,
        updated_at=now,
    )
    session.add(consumer)
    await _flush_unique(session, "consumer", "phone")
    await _event(
        session,
        "consumer.created",
        consumer,
        actor=actor,
        now=now,
        merchant_id=None,
        data={"kyc_level": int(kyc_level)},
    )
    return consumer


async def get_consumer(session: AsyncSession, consumer_id: str) -> Consumer:
    consumer: Consumer = await _get(session, Consumer, consumer_id, "consumer")
    return consumer


def consumers_query() -> Select[Any]:
    return select(Consumer)


async def find_consumer_by_phone(session: AsyncSession, phone: str) -> Consumer | None:
    return await session.scalar(select(Consumer).where(Consumer.phone == canonical_phone(phone)))


def principal_for_consumer(consumer: Consumer) -> Principal:
    """A card holder: no merchant, no platform role; scoped by ``consumer_id``."""
    return Principal(
        kind=PrincipalKind.CONSUMER,
        actor=f"consumer:{consumer.id}",
        roles=frozenset({"consumer"}),
        consumer_id=consumer.id,
    )


async def set_kyc_level(
    session: AsyncSession, consumer_id: str, level: KycLevel, *, actor: str, now: datetime
) -> Consumer:
    """Record the consumer's verified KYC level (raised by verification, lowered on review)."""
    consumer = await get_consumer(session, consumer_id)
    previous = consumer.kyc_level
    consumer.kyc_level = int(level)
    consumer.updated_at = now
    await session.flush()
    await _event(
        session,
        "consumer.kyc_level_changed",
        consumer,
        actor=actor,
        now=now,
        merchant_id=None,
        data={"previous_kyc_level": previous, "kyc_level": int(level)},
    )
    return consumer


# --- API keys -----------------------------------------------------------------------------


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
                f"A platform key's role is one of {', '.join(PlatformRole)}.", param="role"
            )
        if store_id is not None:
            raise InvalidRequest("Platform keys have no store.", param="store_id")
    else:
        if role not in ApiKeyRole.__members__.values():
            raise InvalidRequest(
                f"A merchant key's role is one of {', '.join(ApiKeyRole)}.", param="role"
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
    await _flush_unique(session, "API key", "secret")
    await _event(
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
    api_key: ApiKey = await _get(session, ApiKey, key_id, "API key")
    return api_key


def api_keys_query(merchant_id: str | None) -> Select[Any]:
    statement = select(ApiKey)
    if merchant_id is not None:
        statement = statement.where(ApiKey.merchant_id == merchant_id)
    return statement


async def revoke_api_key(
    session: AsyncSession, key_id: str, *, actor: str, now: datetime
) -> ApiKey:
    """Revoke a key for good. Revoking a revoked key changes nothing and is not an error."""
    api_key = await get_api_key(session, key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        await session.flush()
        await _event(
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


async def _merchant_is_active(session: AsyncSession, merchant_id: str | None) -> bool:
    if merchant_id is None:
        return True
    status = await session.scalar(select(Merchant.status).where(Merchant.id == merchant_id))
    return status == MerchantStatus.ACTIVE


async def authenticate_api_key(
    session: AsyncSession, keys: IdentityKeys, secret: str, *, now: datetime
) -> Principal | None:
    """The caller a key stands for, or None (unknown, revoked, or merchant not active).

    ``last_used_at`` is written at most once a minute per key, by a conditional UPDATE, so
    the hot path reads without writing.
    """
    if not secret.startswith(API_KEY_PREFIX):
        return None
    api_key = await find_api_key(session, keys, secret)
    if api_key is None or api_key.revoked_at is not None:
        return None
    if not await _merchant_is_active(session, api_key.merchant_id):
        return None
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
    return principal_for_api_key(api_key)


# --- console login and sessions -----------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    """A login attempt's outcome. Failures are returned, not raised, so the caller commits
    the failed-attempt counter (an exception would roll it back and defeat the lockout)."""

    user: User | None
    session_token: str | None = None
    console_session: ConsoleSession | None = None
    failure: str | None = None  # "invalid_credentials" | "locked" | "merchant_not_active"

    @property
    def succeeded(self) -> bool:
        return self.failure is None


async def login(
    session: AsyncSession, keys: IdentityKeys, *, email: str, password: str, now: datetime
) -> LoginResult:
    """Check the password and open a console session; count failures and lock the account
    for ``LOCKOUT`` after ``MAX_FAILED_LOGINS`` in a row."""
    user = await session.scalar(
        select(User).where(User.email == normalize_email(email)).with_for_update()
    )
    password_matches = verify_password(user.password_hash if user else None, password)
    if user is None or user.status != UserStatus.ACTIVE:
        return LoginResult(user=None, failure="invalid_credentials")
    if user.locked_until is not None and ensure_utc(user.locked_until) > now:
        log.info("identity.login_refused_locked", user_id=user.id)
        return LoginResult(user=user, failure="locked")
    if not password_matches:
        await _count_failed_login(session, user, now)
        return LoginResult(user=user, failure="invalid_credentials")
    if not await _merchant_is_active(session, user.merchant_id):
        return LoginResult(user=user, failure="merchant_not_active")
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    console_session, token = await _open_session(session, keys, now, user_id=user.id)
    return LoginResult(user=user, session_token=token, console_session=console_session)


async def _open_session(
    session: AsyncSession,
    keys: IdentityKeys,
    now: datetime,
    *,
    user_id: str | None = None,
    consumer_id: str | None = None,
    token_prefix: str = "",
) -> tuple[ConsoleSession, str]:
    """A new session of a user or a consumer, and its token (kept only as an HMAC)."""
    token = token_prefix + random_token(43)
    console_session = ConsoleSession(
        id=new_id("ses"),
        token_hash=keyed_hash(keys.session_hash, token),
        user_id=user_id,
        consumer_id=consumer_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_MAX_AGE,
    )
    session.add(console_session)
    await session.flush()
    return console_session, token


async def open_consumer_session(
    session: AsyncSession, keys: IdentityKeys, consumer: Consumer, *, now: datetime
) -> tuple[ConsoleSession, str]:
    """A consumer's session (after a verified sign-in code). Its token starts with
    ``CONSUMER_TOKEN_PREFIX`` and works as the console cookie and as an API bearer token;
    it expires like a console session (idle and absolute limits)."""
    return await _open_session(
        session, keys, now, consumer_id=consumer.id, token_prefix=CONSUMER_TOKEN_PREFIX
    )


async def _count_failed_login(session: AsyncSession, user: User, now: datetime) -> None:
    user.failed_login_count += 1
    if user.failed_login_count >= MAX_FAILED_LOGINS:
        user.failed_login_count = 0
        user.locked_until = now + LOCKOUT
        log.warning("identity.user_locked", user_id=user.id)
        await _event(
            session,
            "user.locked",
            user,
            actor="system",
            now=now,
            merchant_id=user.merchant_id,
            data={"locked_until": user.locked_until.isoformat()},
        )
    await session.flush()


@dataclass(frozen=True)
class SignedIn:
    """A live session and who it belongs to: a console user or a consumer."""

    console_session: ConsoleSession
    principal: Principal
    user: User | None = None
    consumer: Consumer | None = None


async def _session_subject(
    session: AsyncSession, console_session: ConsoleSession
) -> SignedIn | None:
    if console_session.consumer_id is not None:
        consumer = await session.get(Consumer, console_session.consumer_id)
        if consumer is None:
            return None
        return SignedIn(console_session, principal_for_consumer(consumer), consumer=consumer)
    user = await session.get(User, console_session.user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        return None
    if not await _merchant_is_active(session, user.merchant_id):
        return None
    return SignedIn(console_session, principal_for_user(user), user=user)


async def resolve_session(
    session: AsyncSession, keys: IdentityKeys, token: str, *, now: datetime
) -> SignedIn | None:
    """The live session for a cookie (or consumer bearer) token, or None if unknown, ended,
    idle for longer than ``SESSION_IDLE_TIMEOUT``, older than ``SESSION_MAX_AGE``, or its
    user (or merchant) can no longer log in."""
    console_session = await session.scalar(
        select(ConsoleSession).where(
            ConsoleSession.token_hash == keyed_hash(keys.session_hash, token)
        )
    )
    if console_session is None or console_session.ended_at is not None:
        return None
    last_seen = ensure_utc(console_session.last_seen_at)
    if ensure_utc(console_session.expires_at) <= now or last_seen + SESSION_IDLE_TIMEOUT <= now:
        return None
    signed_in = await _session_subject(session, console_session)
    if signed_in is None:
        return None
    if last_seen + SESSION_TOUCH_RESOLUTION <= now:
        console_session.last_seen_at = now
        await session.flush()
    return signed_in


async def resolve_console_session(
    session: AsyncSession, keys: IdentityKeys, token: str, *, now: datetime
) -> tuple[ConsoleSession, User] | None:
    """A console *user's* live session (see ``resolve_session``); None for consumers."""
    signed_in = await resolve_session(session, keys, token, now=now)
    if signed_in is None or signed_in.user is None:
        return None
    return signed_in.console_session, signed_in.user


async def end_console_session(
    session: AsyncSession, keys: IdentityKeys, token: str, *, now: datetime
) -> None:
    """Log out: the session's token stops working at once."""
    await session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.token_hash == keyed_hash(keys.session_hash, token),
            ConsoleSession.ended_at.is_(None),
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


async def end_session(
    session: AsyncSession, console_session: ConsoleSession, *, now: datetime
) -> None:
    """Log out the session at hand (e.g. a consumer's API token): it stops working at once."""
    if console_session.ended_at is None:
        console_session.ended_at = now
        await session.flush()


def csrf_token_for(keys: IdentityKeys, console_session_id: str) -> str:
    """The synchronizer token of a console session: forms and HTMX requests must echo it."""
    return keyed_hash(keys.csrf, console_session_id)


def csrf_token_matches(keys: IdentityKeys, console_session_id: str, token: str | None) -> bool:
    if not token:
        return False
    return hmac.compare_digest(csrf_token_for(keys, console_session_id), token)
