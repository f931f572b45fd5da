"""The controls' hand-written SQL (``DriverStatement``s: one form for asyncpg, SQLite's
through SQLAlchemy), so the decision point runs on every kind of unit of work. Rows are
read by position."""

from __future__ import annotations

from sqlalchemy import bindparam, column, text
from sqlalchemy.types import Date

from tongka.db.base import UTCDateTime
from tongka.db.statements import DriverStatement

_DATE = bindparam("business_date", type_=Date())
_NOW = bindparam("now", type_=UTCDateTime())

LIMIT_COLUMNS = (
    "per_transaction_max_minor",
    "card_daily_count",
    "card_daily_amount_minor",
    "card_terminal_daily_count",
    "terminal_daily_count",
    "terminal_daily_amount_minor",
)

# The bounds of the currency and the product's limits in one round trip (either may be
# missing: the LEFT JOINs from a one-row select keep the other).
LOAD_LIMITS = DriverStatement(
    text(
        "SELECT "
        + ", ".join(f"b.{column}" for column in LIMIT_COLUMNS)
        + ", "
        + ", ".join(f"p.{column}" for column in LIMIT_COLUMNS)
        + ", p.challenge_threshold_minor"
        " FROM (SELECT 1 AS one) AS anchor"
        " LEFT JOIN redemption_limit_bounds AS b ON b.currency = :currency"
        " LEFT JOIN redemption_product_limits AS p ON p.product_id = :product_id"
    )
)

# The same for many products at once (the redemption lane): the currencies' bounds and the
# products' limits, each row named by its key (PostgreSQL only: the lane's).
LOAD_BOUNDS_MANY = DriverStatement(
    text(
        "SELECT b.currency, "
        + ", ".join(f"b.{column}" for column in LIMIT_COLUMNS)
        + " FROM redemption_limit_bounds AS b WHERE b.currency = ANY(:currencies)"
    )
)
LOAD_PRODUCT_LIMITS_MANY = DriverStatement(
    text(
        "SELECT p.product_id, "
        + ", ".join(f"p.{column}" for column in LIMIT_COLUMNS)
        + ", p.challenge_threshold_minor"
        " FROM redemption_product_limits AS p WHERE p.product_id = ANY(:product_ids)"
    )
)

# Reserve one use in one scope, only if the limits still hold after it: the conditional
# upsert is the lock, the check and the write in one statement (STYLE habit 3). A first
# use of the day inserts (its own check was made before: 1 <= max_count, amount <=
# max_amount); later ones update only while ``used + this <= max``; RETURNING says which.
RESERVE_USAGE = DriverStatement(
    text(
        "INSERT INTO redemption_usage"
        " (scope, subject, business_date, currency, used_count, used_amount_minor)"
        " VALUES (:scope, :subject, :business_date, :currency, 1, :amount)"
        " ON CONFLICT (scope, subject, business_date) DO UPDATE SET"
        " used_count = redemption_usage.used_count + 1,"
        " used_amount_minor = redemption_usage.used_amount_minor + :amount"
        " WHERE redemption_usage.used_count + 1 <= :max_count"
        " AND redemption_usage.used_amount_minor + :amount <= :max_amount"
        " RETURNING used_count"
    ).bindparams(_DATE)
)

# Give a use back (a later decline in the same transaction, a void, a reversal); never
# below zero.
RELEASE_USAGE = DriverStatement(
    text(
        "UPDATE redemption_usage SET"
        " used_count = CASE WHEN used_count > 0 THEN used_count - 1 ELSE 0 END,"
        " used_amount_minor = CASE WHEN used_amount_minor > :amount"
        " THEN used_amount_minor - :amount ELSE 0 END"
        " WHERE scope = :scope AND subject = :subject AND business_date = :business_date"
    ).bindparams(_DATE)
)

READ_USAGE = DriverStatement(
    text(
        "SELECT used_count, used_amount_minor FROM redemption_usage"
        " WHERE scope = :scope AND subject = :subject AND business_date = :business_date"
    ).bindparams(_DATE)
)

INSERT_BREACH = DriverStatement(
    text(
        "INSERT INTO redemption_limit_breaches"
        " (id, card_id, product_id, merchant_id, store_id, terminal_id, limit_name,"
        " limit_value, amount_minor, currency, business_date, created_at)"
        " VALUES (:id, :card_id, :product_id, :merchant_id, :store_id, :terminal_id,"
        " :limit_name, :limit_value, :amount_minor, :currency, :business_date, :now)"
    ).bindparams(_DATE, _NOW)
)

HOLDER_PHONE = DriverStatement(text("SELECT phone FROM consumers WHERE id = :holder_id"))

INSERT_CHALLENGE = DriverStatement(
    text(
        "INSERT INTO redemption_challenges"
        " (id, card_id, merchant_id, terminal_id, amount_minor, currency, reason, phone,"
        " code_hash, status, failed_attempts, created_at, expires_at, used_at)"
        " VALUES (:id, :card_id, :merchant_id, :terminal_id, :amount_minor, :currency,"
        " :reason, :phone, :code_hash, 'pending', 0, :now, :expires_at, NULL)"
    ).bindparams(_NOW, bindparam("expires_at", type_=UTCDateTime()))
)

# Spend a challenge: only the pending, unexpired one for this card, merchant and amount,
# with the right code; a concurrent second use finds it no longer pending.
USE_CHALLENGE = DriverStatement(
    text(
        "UPDATE redemption_challenges SET status = 'used', used_at = :now"
        " WHERE id = :id AND status = 'pending' AND expires_at > :now"
        " AND card_id = :card_id AND merchant_id = :merchant_id"
        " AND amount_minor = :amount_minor AND currency = :currency"
        " AND code_hash = :code_hash RETURNING id"
    ).bindparams(_NOW)
)

READ_CHALLENGE = DriverStatement(
    text(
        "SELECT status, expires_at, failed_attempts, card_id, merchant_id, amount_minor,"
        " currency FROM redemption_challenges WHERE id = :id"
    ),
    sqlite=text(
        "SELECT status, expires_at, failed_attempts, card_id, merchant_id, amount_minor,"
        " currency FROM redemption_challenges WHERE id = :id"
    ).columns(
        column("status"),
        column("expires_at", UTCDateTime()),
        column("failed_attempts"),
        column("card_id"),
        column("merchant_id"),
        column("amount_minor"),
        column("currency"),
    ),
)

COUNT_WRONG_CODE = DriverStatement(
    text(
        "UPDATE redemption_challenges SET failed_attempts = failed_attempts + 1,"
        " status = CASE WHEN failed_attempts + 1 >= :max_attempts THEN 'locked'"
        " ELSE status END"
        " WHERE id = :id AND status = 'pending' RETURNING failed_attempts, status"
    )
)

INSERT_SANDBOX_SMS = DriverStatement(
    text(
        "INSERT INTO sandbox_sms_messages (id, phone, body, created_at)"
        " VALUES (:id, :phone, :body, :now)"
    ).bindparams(_NOW)
)
