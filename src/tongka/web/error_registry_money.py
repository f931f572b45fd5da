# ruff: noqa: E501 - a message is one msgid; split, it would be harder to find and translate
"""The wording of the money-moving parts' error codes: settlement, receipts, orders and the
purchase rules, promotions, reconciliation (``error_registry.MESSAGES`` gathers them).
Same rules as there: English inside ``N_``, ``%(name)s`` from the error's ``details``."""

from __future__ import annotations

from tongka.web.error_text import M, Message
from tongka.web.i18n import N_

MONEY_MESSAGES: dict[str, Message] = {
    # settlement
    "contract_invalid": M(
        N_("%(field)s is out of range for a contract."), N_("A contract term is out of range.")
    ),
    "contract_retroactive": M(
        N_(
            "A contract version applies from today or later, after the latest version; what happened keeps its terms."
        )
    ),
    "settlement_account_name_mismatch": M(
        N_("The settlement account must be in the merchant's verified name, %(verified_name)s."),
        N_("The settlement account must be in the merchant's verified name."),
    ),
    "merchant_not_verified": M(N_("Only a verified merchant can have a contract.")),
    "invalid_issuer_class": M(N_("The issuer class is scale, group or brand.")),
    "contract_conflict": M(
        N_("Another contract version was written at the same time; reload and try again.")
    ),
    "contract_not_found": M(N_("No such contract.")),
    "settlement_batch_not_found": M(N_("No such settlement batch.")),
    "payout_not_found": M(N_("No such payout.")),
    "not_a_business_day": M(
        N_("%(date)s is not a business day: its movements are settled on the next one."),
        N_("This is not a business day: its movements are settled on the next one."),
    ),
    "split_invalid": M(
        N_("This split rule cannot divide the amount: %(problem)s."),
        N_("This split rule cannot divide the amount."),
        groups={"problem": "split_problem"},
    ),
    "invalid_calendar_day": M(
        N_("Name the day, e.g. the Spring Festival or a make-up working day.")
    ),
    # receipts (电子回单)
    "receipt_invalid": M(
        N_("These facts cannot make a receipt: %(field)s is wrong."),
        N_("These facts cannot make a receipt."),
    ),
    "receipt_not_found": M(
        N_("No receipt has this verification code; check the code and try again.")
    ),
    "receipt_not_verified": M(
        N_(
            "This receipt does not verify: its stored content has changed since it was issued. Do not rely on it; contact the platform."
        )
    ),
    "receipt_original_missing": M(
        N_("Order %(order_id)s has no payment receipt for this refund to refer to."),
        N_("The order has no payment receipt for this refund to refer to."),
    ),
    "receipt_refund_exceeds_original": M(
        N_(
            "The refunds would add up to more than the %(paid)s paid (%(refunded)s refunded already)."
        ),
        N_("The refunds would add up to more than was paid."),
    ),
    "receipt_check_rate_limited": M(
        N_("Too many receipt checks from here; please try again later.")
    ),
    # orders and the purchase rules (sales)
    "order_not_found": M(N_("No such order.")),
    "order_invalid": M(
        N_("This order cannot be made as asked: %(field)s is wrong."),
        N_("This order cannot be made as asked."),
    ),
    "order_invalid.currency": M(
        N_("The product is sold in %(product_currency)s, not %(currency)s."),
        N_("The product is not sold in this currency."),
    ),
    "order_invalid.card_status": M(
        N_("The card cannot be sold or topped up in its present state."),
    ),
    "order_invalid.top_up_not_allowed": M(N_("Cards of this product cannot be topped up.")),
    "order_invalid.kind": M(N_("You cannot place an order of this kind.")),
    "order_not_cancellable": M(
        N_("Only an unpaid order can be cancelled; a paid order is refunded instead.")
    ),
    "order_not_refundable": M(N_("Only a fulfilled order can be refunded.")),
    "order_refund_exceeds_unspent": M(
        N_(
            "At most %(refundable)s can be refunded: the paid value the card still holds, less what was refunded already."
        ),
        N_("The refund is more than the paid value the card still holds."),
    ),
    "order_refund_id_conflict": M(
        N_("This refund id was already used for another refund; use a new one.")
    ),
    "order_refund_cards_invalid": M(
        N_("These cards cannot be refunded with this order; check the cards named.")
    ),
    "order_refund_cards_invalid.not_in_batch": M(
        N_("Some of the cards named are not cards of this order's batch.")
    ),
    "order_refund_cards_invalid.amount_with_batch": M(
        N_("An enterprise batch is refunded card by card: name the cards, not an amount.")
    ),
    "order_refund_cards_invalid.card_keeps_value": M(
        N_(
            "A card would keep value after its refund (a later top-up or a bonus): refund or spend that first."
        )
    ),
    "order_refund_cards_invalid.no_paid_value": M(
        N_("A card named holds no paid value to refund.")
    ),
    "order_refund_cards_invalid.not_a_batch": M(
        N_("Only an enterprise batch order is refunded card by card.")
    ),
    "purchase_refused": M(N_("The purchase rules do not allow this purchase.")),
    "purchase_rules_invalid": M(
        N_("These purchase rules cannot be used; check the thresholds and try again.")
    ),
    "purchase_named_unverified": M(
        N_(
            "A named card records its holder's verified identity: verify the holder's identity before buying it."
        )
    ),
    "purchase_real_name_required": M(
        N_("A purchase of anonymous cards of %(threshold)s or more needs the buyer's real name."),
        N_("A purchase of anonymous cards of this amount needs the buyer's real name."),
    ),
    "purchase_bank_transfer_required": M(
        N_("From %(threshold)s on, this purchase must be paid by bank transfer."),
        N_("This purchase must be paid by bank transfer."),
    ),
    "purchase_credit_card_forbidden": M(
        N_("A prepaid card may not be bought or loaded with a credit card; pay another way.")
    ),
    "purchase_splitting_refused": M(
        N_(
            "%(count)s purchases just under %(threshold)s on one day look like one purchase split up; give the buyer's real name to go on."
        ),
        N_(
            "Several purchases just under a threshold on one day look like one purchase split up; give the buyer's real name to go on."
        ),
    ),
    # card returns (退卡)
    "return_refused": M(N_("The return rules do not allow this return.")),
    "return_rules_invalid": M(N_("These return rules cannot be used; check them and try again.")),
    "return_card_not_named": M(
        N_("Only a named card bound to its holder is returned under the regulation.")
    ),
    "return_holder_unverified": M(
        N_("Verify the holder's name (identity card) before returning the card to a bank account.")
    ),
    "return_account_name_mismatch": M(
        N_("A returned card pays out only to a bank account in the holder's own name.")
    ),
    "return_cash_over_limit": M(
        N_("Cash is paid only for %(threshold)s or less; return the card to a bank account."),
        N_("Cash is paid only for small amounts; return the card to a bank account."),
    ),
    "return_cash_at_till": M(N_("Cash is paid by the merchant at its till.")),
    "return_nothing_to_pay": M(N_("The card holds no paid value to return.")),
    "card_return_not_found": M(N_("No such card return.")),
    "card_return_exists": M(N_("This card was returned already.")),
    "card_return_invalid": M(N_("Check the bank account: the bank, the name and the number.")),
    # promotions (充值赠送)
    "promotion_not_found": M(N_("No such promotion.")),
    "invalid_promotion": M(
        N_("The promotion is not valid: check %(field)s."), N_("The promotion is not valid.")
    ),
    "invalid_promotion.tier_count": M(N_("Give 1 to 10 tiers (load at least, receive).")),
    "invalid_promotion.tier_amount": M(N_("A tier's load and bonus must be more than zero.")),
    "invalid_promotion.bonus_above_load": M(
        N_("A bonus (%(bonus)s) cannot be larger than the load that earns it (%(load)s)."),
        N_("A bonus cannot be larger than the load that earns it."),
    ),
    "invalid_promotion.tier_duplicate": M(
        N_("Two tiers start at the same load (%(load)s)."),
        N_("Two tiers start at the same load."),
    ),
    "invalid_promotion.tier_not_rising": M(
        N_("A larger load cannot earn a smaller bonus (the tier at %(load)s)."),
        N_("A larger load cannot earn a smaller bonus."),
    ),
    "invalid_promotion.budget_too_small": M(
        N_("The budget (%(budget)s) must pay at least one bonus of the smallest tier (%(bonus)s)."),
        N_("The budget must pay at least one bonus of the smallest tier."),
    ),
    "invalid_promotion.window": M(N_("The promotion must end after it starts, and in the future.")),
    "invalid_promotion.holder_count": M(N_("A per-holder count is at least 1.")),
    "invalid_promotion.holder_amount": M(
        N_("A per-holder amount must allow at least one bonus of the smallest tier (%(bonus)s)."),
        N_("A per-holder amount must allow at least one bonus of the smallest tier."),
    ),
    "invalid_promotion.name": M(N_("Name the promotion (1 to 120 characters).")),
    "invalid_promotion.product_count": M(N_("Name at most 100 card products.")),
    "invalid_promotion.unknown_product": M(
        N_("Not a card product of yours in this currency: %(product_ids)s."),
        N_("Not a card product of yours in this currency."),
    ),
    "promotion_funds_insufficient": M(
        N_("Your account holds %(available)s, less than the budget of %(budget)s."),
        N_("Your account holds less than the budget."),
    ),
    "bonus_already_posted": M(N_("The bonus is on the card already; it cannot be given back.")),
    "bonus_not_claimed": M(N_("The order has no claimed bonus to post.")),
    # reconciliation (对账)
    "reconciliation_not_found": M(N_("No such reconciliation.")),
    "reconciliation_exception_not_found": M(N_("No such reconciliation exception.")),
    "reconciliation_resolution_not_found": M(N_("No such resolution.")),
    "reconciliation_in_progress": M(
        N_("This day's reconciliation is running: wait for it to finish, then look again.")
    ),
    "reconciliation_exception_resolved": M(
        N_("This exception has a resolution already; nothing was changed.")
    ),
    "reconciliation_nothing_to_adjust": M(
        N_("This difference moves no money: match it by hand instead.")
    ),
    "reconciliation_same_approver": M(
        N_("Four eyes: someone other than who proposed the adjustment must approve it.")
    ),
    "reconciliation_not_an_adjustment": M(
        N_("A match by hand is final: there is nothing to approve.")
    ),
    "reconciliation_statement_invalid": M(
        N_("The statement cannot be read: %(problem)s."),
        N_("The statement cannot be read; check the file and try again."),
    ),
    "reconciliation_invalid_date": M(N_("Give the day as YYYY-MM-DD.")),
    "reconciliation_invalid_channel": M(N_("Choose a channel, or the reserve account.")),
    "reconciliation_invalid_method": M(N_("Choose how to resolve it.")),
    "reconciliation_statement_unavailable": M(
        N_(
            "The channel's statement of that day cannot be had now; nothing was imported. Try again later."
        )
    ),
    "reconciliation_day_not_over": M(
        N_("%(statement_date)s has not ended yet: its statement exists once the day is over."),
        N_("That day has not ended yet: its statement exists once the day is over."),
    ),
    "order_channel_required": M(N_("Pick how to pay: WeChat Pay or Alipay.")),
    "reconciliation_statement_empty": M(
        N_("The statement file is empty: choose the day's statement file.")
    ),
    "payout_results_invalid": M(
        N_("The bank's result file cannot be read: %(problem)s."),
        N_("The bank's result file cannot be read; nothing of it was applied."),
    ),
    "order_product_required": M(N_("Pick one of your cards on sale.")),
    "order_buyer_required": M(N_("Type the buying unit's name.")),
    "batch_count_invalid": M(N_("Type how many cards, a whole number from 1 to 100,000.")),
    "transfer_field_required": M(N_("Fill in this field as the bank shows it.")),
    "card_return_not_retryable": M(
        N_("Only a payout the bank rejected or returned is sent again to another account.")
    ),
    "card_return_retry_conflict": M(N_("This form was used for another return; reload the page.")),
}
