"""Words for the codes the console shows: statuses, roles, audiences... never the code.

``label(group, value)`` in a template (``{{ label('status', merchant.status) }}``) shows the
value's words in the page's language; a value without words shows as itself, and a test
checks that every value of the enums the console shows has its words.
"""

from __future__ import annotations

from jinja2 import pass_context
from jinja2.runtime import Context

from tongka.web.i18n import DEFAULT_LANGUAGE, N_, gettext

LABELS: dict[str, dict[str, str]] = {
    "payment_channel": {
        "wechat": N_("WeChat Pay"),
        "alipay": N_("Alipay"),
        "unionpay": N_("UnionPay"),
        "bank_transfer": N_("Bank transfer"),
        "cash": N_("Cash"),
    },
    "circuit": {
        "closed": N_("Healthy"),
        "open": N_("Skipped (failing)"),
        "half_open": N_("Probing"),
    },
    # actions offered on pages (buttons, confirmations)
    "action": {
        "activate": N_("Activate"),
        "approve": N_("Approve"),
        "close": N_("Close the card"),
        "disable": N_("Disable"),
        "freeze": N_("Freeze"),
        "merge": N_("Merge"),
        "reissue": N_("Reissue"),
        "reject": N_("Reject"),
        "report_lost": N_("Report lost"),
        "revoke": N_("Revoke"),
        "rotate_secret": N_("Rotate secret"),
        "submit": N_("Submit for review"),
        "suspend": N_("Suspend"),
        "unfreeze": N_("Unfreeze"),
    },
    "agreement": {
        "approved": N_("In force"),
        "proposed": N_("Proposed"),
        "rejected": N_("Rejected"),
        "revoked": N_("Ended"),
    },
    "attempt": {
        "failed": N_("Failed"),
        "succeeded": N_("Delivered"),
    },
    "audience": {
        "consumer": N_("Consumer"),
        "merchant": N_("Merchant"),
        "platform": N_("Platform"),
    },
    "batch": {
        "cancelled": N_("Cancelled"),
        "completed": N_("Completed"),
        "failed": N_("Failed"),
        "pending": N_("Queued"),
        "running": N_("Issuing"),
    },
    # receipts (电子回单): what a receipt is for, and the channel it was paid through
    "receipt_kind": {
        "enterprise_batch": N_("Enterprise batch purchase"),
        "purchase": N_("Card purchase"),
        "refund": N_("Refund"),
        "top_up": N_("Top-up"),
    },
    "receipt_channel": {
        "alipay": N_("Alipay"),
        "bank_transfer": N_("Bank transfer"),
        "cash": N_("Cash"),
        "unionpay": N_("UnionPay"),
        "wechat": N_("WeChat Pay"),
    },
    "card_status": {
        "active": N_("Active"),
        "closed": N_("Closed"),
        "expired": N_("Expired"),
        "frozen": N_("Frozen"),
        "issued": N_("Not activated"),
        "lost": N_("Reported lost"),
    },
    "kyc": {
        "bank_card": N_("Bank card verified"),
        "id_card": N_("ID card verified"),
        "none": N_("Not verified"),
        "phone": N_("Phone verified"),
    },
    "product": {
        "active": N_("Approved"),
        "draft": N_("Draft"),
        "pending_review": N_("Pending review"),
        "rejected": N_("Rejected"),
    },
    "part": {
        "bonus": N_("Bonus"),
        "paid": N_("Paid value"),
    },
    "movement": {
        "card_batch_funding": N_("Batch activation"),
        "card_breakage": N_("Expired balance"),
        "card_exchange": N_("Exchanged for a new card"),
        "card_funding": N_("Paid activation"),
        "card_load": N_("Activation top-up"),
        "card_merge": N_("Merge"),
        "card_reissue": N_("Reissue"),
        "redemption": N_("Payment"),
        "redemption_hold": N_("Amount held"),
        "redemption_refund": N_("Refund"),
    },
    "redemption": {
        "approved": N_("Approved"),
        "authorized": N_("Held"),
        "captured": N_("Captured"),
        "declined": N_("Declined"),
        "expired": N_("Hold expired"),
        "reversed": N_("Reversed"),
        "voided": N_("Voided"),
    },
    "register": {
        "account_name": N_("Settlement account name"),
        "account_number": N_("Settlement account number"),
        "admin_email": N_("Admin login email"),
        "admin_password": N_("Admin password (10+ characters)"),
        "bank_name": N_("Settlement bank"),
        "contact_email": N_("Contact email"),
        "contact_name": N_("Contact name"),
        "contact_phone": N_("Contact phone"),
        "credit_code": N_("Unified social credit code"),
        "done": N_("Application received. You can log in once the platform approves it."),
        "legal_name": N_("Legal name"),
        "submit": N_("Apply"),
        "title": N_("Merchant application"),
    },
    "role": {
        "admin": N_("Admin"),
        "cashier": N_("Cashier"),
        "finance": N_("Finance"),
        "full": N_("Full access"),
        "merchant_admin": N_("Merchant admin"),
        "risk": N_("Risk"),
        "support": N_("Support"),
    },
    "status": {
        "active": N_("Active"),
        "disabled": N_("Disabled"),
        "draft": N_("Draft"),
        "pending_review": N_("Pending review"),
        "rejected": N_("Rejected"),
        "suspended": N_("Suspended"),
    },
    "webhooks.status": {
        "disabled": N_("Disabled"),
        "enabled": N_("Enabled"),
    },
    # settlement (the part's pages)
    "settlement.payout_status": {
        "building": N_("Being built"),
        "due": N_("Due"),
        "paying": N_("Paying out"),
        "paid": N_("Paid"),
        "failed": N_("Payout failed"),
        "carried": N_("Carried forward"),
        "returned": N_("Returned by the bank"),
    },
    "settlement.carry_reason": {
        "negative": N_("negative net"),
        "zero": N_("nothing to pay"),
        "below_minimum": N_("below the minimum payout"),
        "held": N_("payouts held"),
        "no_contract": N_("no contract"),
        "payout_rejected": N_("payout rejected"),
        "deposit_ratio": N_("the issuer's deposit ratio would not be met"),
    },
    "settlement.issuer_class": {
        "scale": N_("Scale issuer, 20 percent"),
        "group": N_("Group issuer, 30 percent"),
        "brand": N_("Brand issuer, 40 percent"),
    },
    "settlement.payout": {
        "submitting": N_("Sending"),
        "unknown": N_("Awaiting the bank"),
        "paid": N_("Paid"),
        "rejected": N_("Rejected"),
        "returned": N_("Returned by the bank"),
    },
    "settlement.line": {
        "redemption": N_("Redemption"),
        "refund": N_("Refund"),
        "fee": N_("Fee"),
        "reserve_hold": N_("Rolling reserve held"),
        "reserve_release": N_("Rolling reserve released"),
        "payout_returned": N_("Payout returned"),
        "carried": N_("Carried from an earlier batch"),
        "promotion_funding": N_("Promotion budget funded"),
        "promotion_return": N_("Promotion budget returned"),
        "split": N_("Split with the issuer or the platform"),
    },
    "settlement.split_party": {
        "issuer": N_("Issuer"),
        "acceptor": N_("Acceptor"),
        "platform": N_("Platform"),
    },
    "settlement.split_remainder": {
        "largest_remainder": N_("Largest remainders first"),
        "to_party": N_("All to one party"),
    },
    "settlement.fee_kind": {
        "redemption_own": N_("Redemption at own stores"),
        "redemption_other_issuer": N_("Redemption of another issuer's card"),
        "top_up": N_("Top-up"),
        "buyback_resale": N_("Buy-back resale"),
    },
    # orders (sales)
    "order.status": {
        "created": N_("Created"),
        "awaiting_payment": N_("Awaiting payment"),
        "paid": N_("Paid"),
        "fulfilled": N_("Fulfilled"),
        "cancelled": N_("Cancelled"),
        "expired": N_("Expired"),
        "refunded": N_("Refunded"),
        "partly_refunded": N_("Partly refunded"),
    },
    "order.kind": {
        "purchase": N_("Card purchase"),
        "top_up": N_("Top-up"),
        "till_sale": N_("Till sale"),
        "batch": N_("Enterprise batch"),
    },
    "order.buyer_kind": {
        "person": N_("A person"),
        "unit": N_("A unit"),
    },
    # promotions (充值赠送)
    "promotion": {
        "active": N_("Running"),
        "exhausted": N_("Budget used up"),
        "ended": N_("Ended"),
    },
    "promotion_claim": {
        "claimed": N_("Granted"),
        "posted": N_("On the card"),
        "released": N_("Given back"),
    },
    # reconciliation (对账)
    "reconciliation.channel": {
        "wechat": N_("WeChat Pay"),
        "alipay": N_("Alipay"),
        "unionpay": N_("UnionPay"),
        "bank_transfer": N_("Bank transfer"),
        "reserve": N_("Reserve account balance"),
    },
    "reconciliation.kind": {
        "long": N_("In the channel, not in the ledger (long)"),
        "short": N_("In the ledger, not in the channel (short)"),
        "amount_mismatch": N_("Amount differs"),
        "fee_mismatch": N_("Fee differs"),
        "duplicate": N_("Listed twice"),
        "date_shift": N_("On another day"),
        "bank_mismatch": N_("Bank received another amount"),
        "reserve_balance": N_("Reserve balance differs from the bank"),
    },
    "reconciliation.status": {
        "open": N_("Open"),
        "awaiting_approval": N_("Awaiting approval"),
        "resolved": N_("Resolved"),
    },
    "reconciliation.run": {
        "importing": N_("Importing"),
        "matched": N_("Matched"),
    },
    "reconciliation.bank": {
        "unchecked": N_("Bank statement not in yet"),
        "matched": N_("Matches the bank"),
        "mismatch": N_("Differs from the bank"),
    },
    "reconciliation.method": {
        "manual_match": N_("Matched by hand"),
        "adjustment": N_("Adjusting transfer"),
    },
    "reconciliation.age": {
        "under_1_day": N_("Under a day"),
        "1_to_3_days": N_("1–3 days"),
        "3_to_7_days": N_("3–7 days"),
        "over_7_days": N_("Over 7 days"),
    },
    "card_return.status": {
        "paying": N_("Paying out"),
        "unknown": N_("Awaiting the bank"),
        "paid": N_("Paid"),
        "rejected": N_("Rejected by the bank"),
        "returned": N_("Returned by the bank"),
        "paid_cash": N_("Paid in cash"),
    },
    "card_return.method": {
        "bank_account": N_("Bank account"),
        "cash": N_("Cash at the till"),
    },
}


def label_text(language: str, group: str, value: object) -> str:
    """The words for ``value`` of ``group`` in ``language`` (the value itself if none)."""
    key = getattr(value, "value", value)
    words = LABELS.get(group, {}).get(str(key))
    if words is None:
        return str(key)
    return gettext(language, words)


@pass_context
def label_of(context: Context, group: str, value: object) -> str:
    """The words for ``value`` of ``group`` in the page's language (the value if none)."""
    return label_text(context.get("language", DEFAULT_LANGUAGE), group, value)
