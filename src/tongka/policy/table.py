"""The table: action -> which roles of which principal kinds may take it.

Roles imply others (``tongka.identity.principal.ROLE_IMPLIES``): ``admin`` holds finance,
risk and support; ``merchant_admin`` and ``full`` keys hold ``cashier``. A grant names the
least role needed. A grant for merchant callers says whether a *store-bound* principal (a
key or user narrowed to one store) may use it too: store-bound principals run tills; they
never manage people, keys, products or a card's credentials.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tongka.identity.principal import PrincipalKind


class Action(enum.StrEnum):
    CARD_READ = "card.read"
    CARD_SEARCH = "card.search"
    CARD_ISSUE = "card.issue"
    CARD_FREEZE = "card.freeze"
    CARD_UNFREEZE = "card.unfreeze"
    CARD_REPORT_LOST = "card.report_lost"
    CARD_REISSUE = "card.reissue"
    CARD_CLOSE = "card.close"
    CARD_MERGE = "card.merge"
    CARD_ACTIVATE = "card.activate"
    CARD_FUND = "card.fund"
    BATCH_READ = "batch.read"
    BATCH_CREATE = "batch.create"
    BATCH_EXPORT = "batch.export"
    BATCH_FUND = "batch.fund"
    PRODUCT_READ = "product.read"
    PRODUCT_MANAGE = "product.manage"
    PRODUCT_REVIEW = "product.review"
    STORE_READ = "store.read"
    STORE_MANAGE = "store.manage"
    TERMINAL_READ = "terminal.read"
    TERMINAL_MANAGE = "terminal.manage"
    USER_READ = "user.read"
    USER_MANAGE = "user.manage"
    USER_RESET_PASSWORD = "user.reset_password"
    USER_DISABLE = "user.disable"
    PASSWORD_CHANGE = "password.change"
    API_KEY_READ = "api_key.read"
    API_KEY_MANAGE = "api_key.manage"
    MERCHANT_READ = "merchant.read"
    MERCHANT_REVIEW = "merchant.review"
    MERCHANT_RESUBMIT = "merchant.resubmit"
    CONSUMER_READ = "consumer.read"
    CONSUMER_CREATE = "consumer.create"
    CONSUMER_KYC = "consumer.kyc"
    CONSUMER_SELF = "consumer.self"
    QUOTA_SET = "quota.set"
    REGULATION_READ = "regulation.read"
    REGULATION_SET = "regulation.set"
    WEBHOOK_MANAGE = "webhook.manage"
    EVENT_READ = "event.read"
    AGREEMENT_READ = "agreement.read"
    AGREEMENT_MANAGE = "agreement.manage"
    BINDING_REQUEST = "binding.request"
    BINDING_CONFIRM = "binding.confirm"
    SANDBOX_SMS_READ = "sandbox_sms.read"
    CONSOLE_HOME = "console.home"
    DASHBOARD_READ = "dashboard.read"
    # Operator jobs the CLI runs as ``tongka.identity.principal.SYSTEM``.
    BATCH_RUN_OFFLINE = "batch.run_offline"
    CARD_EXPIRE = "card.expire"
    LEDGER_VERIFY = "ledger.verify"
    LEDGER_EXPORT = "ledger.export"
    # Redemption (核销): a till redeems at its own store; managers refund.
    REDEMPTION_CREATE = "redemption.create"
    REDEMPTION_READ = "redemption.read"
    REDEMPTION_REFUND = "redemption.refund"
    REDEMPTION_REVERSE = "redemption.reverse"
    # Redemption controls: limits (issuers within the platform's bounds), payment codes.
    REDEMPTION_LIMITS_READ = "redemption_limits.read"
    REDEMPTION_LIMITS_MANAGE = "redemption_limits.manage"
    REDEMPTION_BOUNDS_MANAGE = "redemption_bounds.manage"
    PAYMENT_CODE_ISSUE = "payment_code.issue"
    # Settlement: contracts, batches, payouts, runs, the business-day calendar.
    CONTRACT_READ = "contract.read"
    CONTRACT_MANAGE = "contract.manage"
    PAYOUT_HOLD = "payout.hold"
    SETTLEMENT_READ = "settlement.read"
    PAYOUT_READ = "payout.read"
    SETTLEMENT_RUN = "settlement.run"
    CALENDAR_MANAGE = "calendar.manage"
    # Payments: channels, the reserve (备付金), statements.
    PAYMENT_READ = "payment.read"
    CHANNEL_READ = "channel.read"
    CHANNEL_MANAGE = "channel.manage"
    RESERVE_READ = "reserve.read"
    RESERVE_TRANSFER = "reserve.transfer"
    STATEMENT_IMPORT = "statement.import"
    TRANSFER_RECORD = "payment.record_transfer"
    # Promotions (充值赠送): a merchant's bonus offers, funded from its own account.
    PROMOTION_READ = "promotion.read"
    PROMOTION_MANAGE = "promotion.manage"
    # Reconciliation (对账): runs, their reports and exceptions, resolutions, approvals.
    RECONCILIATION_READ = "reconciliation.read"
    RECONCILIATION_RUN = "reconciliation.run"
    RECONCILIATION_RESOLVE = "reconciliation.resolve"
    RECONCILIATION_APPROVE = "reconciliation.approve"
    # Orders (sales): buying, topping up, selling at the till, enterprise batches.
    ORDER_CREATE = "order.create"
    ORDER_READ = "order.read"
    ORDER_CANCEL = "order.cancel"
    ORDER_REFUND = "order.refund"
    # The holder's own console pages for orders: buying a card (购卡), topping one up (充值),
    # paying and cancelling their orders (holders only: staff sell from the till pages).
    CONSUMER_BUY = "consumer.buy"
    CONSUMER_ORDERS = "consumer.orders"
    # Card returns under the regulation (退卡): the holder, or the issuer's till or console
    # on the holder's behalf; everyone in scope reads them.
    CARD_RETURN_CREATE = "card_return.create"
    CARD_RETURN_READ = "card_return.read"
    # The holder's own 退卡 form in the console (holders only: staff use the API or the till).
    CONSUMER_RETURN_CARD = "consumer.return_card"
    # A rejected or returned (退票) return payout sent again to another account in the
    # holder's name: the holder, or the platform's finance for them.
    CARD_RETURN_RETRY = "card_return.retry"


# The card lifecycle endpoints (``/v1/cards/{id}/<name>``) and their actions.
CARD_LIFECYCLE: dict[str, Action] = {
    "freeze": Action.CARD_FREEZE,
    "unfreeze": Action.CARD_UNFREEZE,
    "report_lost": Action.CARD_REPORT_LOST,
    "close": Action.CARD_CLOSE,
}

PLATFORM_ROLES = frozenset({"admin", "finance", "risk", "support"})
ANY_PLATFORM = ("admin", "finance", "risk", "support")
ANY_MERCHANT = ("merchant_admin", "full", "cashier")
MANAGER = ("merchant_admin",)  # full keys imply merchant_admin


@dataclass(frozen=True)
class Grant:
    """``kind`` callers holding one of ``roles`` (empty: any) may take the action;
    ``store_bound`` says whether a store-bound merchant principal may too."""

    kind: PrincipalKind
    roles: tuple[str, ...] = ()
    store_bound: bool = False


def platform(*roles: str) -> Grant:
    return Grant(PrincipalKind.PLATFORM, roles or ANY_PLATFORM)


def merchant(*roles: str, store_bound: bool = False) -> Grant:
    return Grant(PrincipalKind.MERCHANT, roles or ANY_MERCHANT, store_bound)


HOLDER = Grant(PrincipalKind.CONSUMER)
STAFF_READ = (platform(), merchant(store_bound=True))
MANAGE = (platform("admin"), merchant(*MANAGER))

TABLE: dict[Action, tuple[Grant, ...]] = {
    # Cards. A till may read and freeze (a suspicious card); only managers touch a card's
    # credentials or value. Holders act on their own cards, but never get new credentials.
    Action.CARD_READ: (*STAFF_READ, HOLDER),
    # The console's card pages: staff search an issuer's cards (holders have /console/me).
    Action.CARD_SEARCH: STAFF_READ,
    Action.CARD_ISSUE: (merchant(*MANAGER),),
    Action.CARD_FREEZE: (platform("admin", "risk", "support"), merchant(store_bound=True), HOLDER),
    Action.CARD_UNFREEZE: (platform("admin", "risk"), merchant(*MANAGER), HOLDER),
    Action.CARD_REPORT_LOST: (platform("admin", "support"), merchant(*MANAGER), HOLDER),
    # A reissue answers the new number and secret: only the issuer's managers, who hand the
    # card to its holder, may see them (the platform closes or merges, never takes secrets).
    Action.CARD_REISSUE: (merchant(*MANAGER),),
    Action.CARD_CLOSE: MANAGE,
    Action.CARD_MERGE: MANAGE,
    Action.CARD_ACTIVATE: (merchant(*MANAGER),),
    # A card paid by bank transfer: finance records the payment, like a batch's.
    Action.CARD_FUND: (platform("admin", "finance"),),
    # Batches and products.
    Action.BATCH_READ: STAFF_READ,
    Action.BATCH_CREATE: (merchant(*MANAGER),),
    Action.BATCH_EXPORT: (merchant(*MANAGER),),
    Action.BATCH_FUND: (platform("admin", "finance"),),
    Action.PRODUCT_READ: STAFF_READ,
    Action.PRODUCT_MANAGE: (merchant(*MANAGER),),
    Action.PRODUCT_REVIEW: (platform("admin"),),
    # A merchant's places, people and keys.
    Action.STORE_READ: STAFF_READ,
    Action.STORE_MANAGE: MANAGE,
    Action.TERMINAL_READ: STAFF_READ,
    Action.TERMINAL_MANAGE: MANAGE,
    Action.USER_READ: (platform(), merchant()),
    Action.USER_MANAGE: MANAGE,
    # A temporary password (merchant admins for their staff, platform admins for operators)
    # and disabling a user; the service narrows the target (never oneself, never the last
    # admin). Every signed-in staff member changes their own password.
    Action.USER_RESET_PASSWORD: MANAGE,
    Action.USER_DISABLE: MANAGE,
    Action.PASSWORD_CHANGE: (platform(), merchant(store_bound=True)),
    Action.API_KEY_READ: (platform(), merchant()),
    Action.API_KEY_MANAGE: MANAGE,
    Action.MERCHANT_READ: STAFF_READ,
    Action.MERCHANT_REVIEW: (platform("admin"),),
    # A rejected applicant's admin corrects and resubmits (through its application pass).
    Action.MERCHANT_RESUBMIT: (merchant(*MANAGER),),
    # Card holders.
    Action.CONSUMER_READ: (platform(),),
    Action.CONSUMER_CREATE: (platform("support"),),
    Action.CONSUMER_KYC: (platform("risk"),),
    Action.CONSUMER_SELF: (HOLDER,),
    # Platform rules.
    Action.QUOTA_SET: (platform("admin"),),
    Action.REGULATION_READ: STAFF_READ,
    Action.REGULATION_SET: (platform("admin"),),
    # Integrations.
    Action.WEBHOOK_MANAGE: MANAGE,
    Action.EVENT_READ: MANAGE,
    # Acceptance agreements between merchants; binding a card to its holder by consent.
    Action.AGREEMENT_READ: (platform(), merchant()),
    Action.AGREEMENT_MANAGE: (merchant(*MANAGER),),
    Action.BINDING_REQUEST: (merchant(*MANAGER),),
    Action.BINDING_CONFIRM: (HOLDER,),
    Action.SANDBOX_SMS_READ: (platform("support"),),
    Action.CONSOLE_HOME: (*STAFF_READ, HOLDER),
    # The staff home page: each role's figures (a till's page shows what it may do).
    Action.DASHBOARD_READ: STAFF_READ,
    # Operator jobs (the CLI, as SYSTEM): a whole batch for any product, the expiry job, the
    # books. No route takes these; a platform admin at the shell is the only caller.
    Action.BATCH_RUN_OFFLINE: (platform("admin"),),
    Action.CARD_EXPIRE: (platform("admin"),),
    Action.LEDGER_VERIFY: (platform("admin", "finance"),),
    Action.LEDGER_EXPORT: (platform("admin", "finance"),),
    # Redemption: tills (cashier keys, store-bound too) redeem, hold, capture, void and
    # reverse their own; the platform reads; a refund needs a manager, or a till at its store.
    Action.REDEMPTION_CREATE: (merchant(store_bound=True),),
    Action.REDEMPTION_READ: (platform(), merchant(store_bound=True)),
    Action.REDEMPTION_REFUND: (platform("admin", "support"), merchant(store_bound=True)),
    Action.REDEMPTION_REVERSE: (merchant(store_bound=True),),
    # Redemption controls: staff read limits; issuers' managers set their products' limits
    # within the bounds the platform's admins set; holders get payment codes for their cards.
    Action.REDEMPTION_LIMITS_READ: STAFF_READ,
    Action.REDEMPTION_LIMITS_MANAGE: (merchant(*MANAGER),),
    Action.REDEMPTION_BOUNDS_MANAGE: (platform("admin"),),
    Action.PAYMENT_CODE_ISSUE: (HOLDER,),
    # Settlement: a merchant's managers read their contracts, batches and payouts (money
    # owed to the merchant, not a till's business); finance writes contracts, runs the
    # settlement and edits the calendar; risk or finance holds payouts (延迟结算).
    Action.CONTRACT_READ: (platform(), merchant(*MANAGER)),
    Action.CONTRACT_MANAGE: (platform("admin", "finance"),),
    Action.PAYOUT_HOLD: (platform("admin", "finance", "risk"),),
    Action.SETTLEMENT_READ: (platform(), merchant(*MANAGER)),
    Action.PAYOUT_READ: (platform(), merchant(*MANAGER)),
    Action.SETTLEMENT_RUN: (platform("admin", "finance"),),
    Action.CALENDAR_MANAGE: (platform("admin", "finance"),),
    # Payments: a merchant reads its own; the platform configures channels; finance watches
    # the reserve, moves fee income out of it (三分离) and imports channel statements.
    Action.PAYMENT_READ: (platform(), merchant(store_bound=True)),
    Action.CHANNEL_READ: (platform(),),
    Action.CHANNEL_MANAGE: (platform("admin"),),
    Action.RESERVE_READ: (platform("admin", "finance"),),
    Action.RESERVE_TRANSFER: (platform("admin", "finance"),),
    Action.STATEMENT_IMPORT: (platform("admin", "finance"),),
    # finance records an incoming bank transfer (来账登记), matched to its payment by reference
    Action.TRANSFER_RECORD: (platform("admin", "finance"),),
    # Promotions: staff read them (a till tells the customer what a load earns); the
    # merchant's managers start and end them, with the merchant's own money.
    Action.PROMOTION_READ: STAFF_READ,
    Action.PROMOTION_MANAGE: (merchant(*MANAGER),),
    # Reconciliation: the platform's staff read it; finance runs it; operators (support)
    # and finance resolve exceptions; finance approves adjustments, and the service
    # refuses an approval by the adjustment's proposer (four eyes).
    Action.RECONCILIATION_READ: (platform(),),
    Action.RECONCILIATION_RUN: (platform("admin", "finance"),),
    Action.RECONCILIATION_RESOLVE: (platform("admin", "finance", "support"),),
    Action.RECONCILIATION_APPROVE: (platform("admin", "finance"),),
    # Orders: holders buy and top up their own cards; tills sell and top up (an enterprise
    # batch also needs batch.create: a manager's); staff and holders read and cancel unpaid
    # orders in their scope; a refund (money back through the channel) needs a manager or
    # platform support.
    Action.ORDER_CREATE: (merchant(store_bound=True), HOLDER),
    Action.ORDER_READ: (platform(), merchant(store_bound=True), HOLDER),
    Action.ORDER_CANCEL: (merchant(store_bound=True), HOLDER),
    Action.ORDER_REFUND: (platform("admin", "support"), merchant(*MANAGER)),
    Action.CONSUMER_BUY: (HOLDER,),
    Action.CONSUMER_ORDERS: (HOLDER,),
    Action.CARD_RETURN_CREATE: (merchant(store_bound=True), HOLDER),
    Action.CARD_RETURN_READ: (platform(), merchant(store_bound=True), HOLDER),
    Action.CONSUMER_RETURN_CARD: (HOLDER,),
    Action.CARD_RETURN_RETRY: (platform("admin", "finance"), HOLDER),
}
