# ruff: noqa: E501 - a message is one msgid; split, it would be harder to find and translate
"""The wording of every domain error code (see ``error_messages`` for how it is used).

Each text is English inside ``N_`` and translated by the catalogs; ``%(name)s`` is a
parameter from the error's ``details`` (``field`` is its ``param``), already formatted for
people. ``bare`` is the same message without parameters, for an error raised without them.
The money-moving parts' codes (settlement, receipts, orders, promotions, reconciliation)
are worded in ``error_registry_money`` and gathered here.
"""

from __future__ import annotations

from tongka.web.error_registry_money import MONEY_MESSAGES
from tongka.web.error_text import Message
from tongka.web.i18n import N_

REGULATION_RULES = "regulation_violation"


CARD = {"status": "card_status", "allowed": "card_status"}
PRODUCT = {"status": "product_status", "target": "product_status"}
AGREEMENT = {"status": "agreement_status", "target": "agreement_status"}
MERCHANT = {"status": "merchant_status"}

M = Message
MESSAGES: dict[str, Message] = {
    # the kinds (tongka.errors), for an error no code describes better
    "invalid_request": M(N_("The request is not valid.")),
    "not_found": M(N_("No such %(object)s."), N_("Not found, or not visible to you.")),
    "conflict": M(N_("This conflicts with the current state; reload the page and try again.")),
    "permission_denied": M(N_("You are not allowed to do this.")),
    "authentication_failed": M(N_("Please sign in again.")),
    "rate_limited": M(N_("Too many attempts; please wait a moment and try again.")),
    "business_rule_violation": M(N_("The rules do not allow this.")),
    "service_unavailable": M(N_("The service is unavailable; please try again later.")),
    "validation_failed": M(N_("%(field)s is not valid."), N_("Some fields are not valid.")),
    # the console's own form checks (web/forms.py, pages): raised with these very texts
    "amount_required": M(N_("Type an amount.")),
    "amount_not_a_number": M(N_("Type an amount in yuan, e.g. 100 or 99.50.")),
    "amount_too_precise": M(N_("An amount in yuan has at most two decimals (fen), e.g. 99.50.")),
    "reason_required": M(N_("Give a reason: it is recorded with the action.")),
    "not_a_whole_number": M(N_("Type a whole number.")),
    "not_a_decimal": M(N_("Type a decimal number, e.g. 0.9.")),
    # accounts and passwords
    "field_required": M(N_("%(field)s is required."), N_("This field is required.")),
    "wrong_current_password": M(N_("The current password is wrong.")),
    "password_unchanged": M(N_("Choose a new password: it must differ from the old one.")),
    "passwords_differ": M(N_("The two new passwords differ; type the same one twice.")),
    "own_account": M(N_("You cannot do this to your own account.")),
    "last_active_admin": M(N_("This is the last active admin: make another user admin first.")),
    # money and currencies
    "invalid_amount": M(N_("%(field)s is not a valid amount."), N_("Not a valid amount.")),
    "invalid_amount.not_an_amount": M(
        N_("“%(text)s” is not an amount; write it like 1234.56."),
        N_("Not an amount; write it like 1234.56."),
    ),
    "invalid_amount.too_many_decimals": M(
        N_(
            "“%(text)s” has %(places)s decimal places; %(currency)s amounts have at most %(allowed)s."
        ),
        N_("The amount has more decimal places than its currency allows."),
    ),
    "invalid_amount.not_finite": M(N_("An amount must be a finite number.")),
    "invalid_amount.out_of_range": M(N_("The amount is too large.")),
    "invalid_amount.not_positive": M(N_("The amount must be more than zero.")),
    "invalid_amount.above_maximum": M(N_("The amount is larger than a transfer may be.")),
    "unknown_currency": M(N_("%(currency)s is not a known currency."), N_("Unknown currency.")),
    "currency_not_enabled": M(
        N_("%(currency)s is not accepted on this platform (accepted: %(accepted)s)."),
        N_("This currency is not accepted on this platform."),
    ),
    "currency_mismatch": M(
        N_("The amount is in %(currency)s, but this is a %(expected_currency)s %(object)s."),
        N_("The amounts are in different currencies."),
    ),
    "invalid_allocation": M(N_("The amount cannot be split this way.")),
    # the database and the ledger
    "outcome_unknown": M(
        N_("The connection was lost and the outcome is unknown; check before trying again.")
    ),
    "retry_later": M(N_("The system is busy and nothing was changed; please try again.")),
    "ledger_contention": M(N_("The system is busy and nothing was changed; please try again.")),
    "channel_error": M(N_("The payment channel did not answer as expected; please try again.")),
    "notification_signature_invalid": M(
        N_("The payment notification's signature does not verify; it was ignored.")
    ),
    "payment_not_found": M(N_("No such payment, or not visible to you.")),
    "payment_purpose_unknown": M(N_("Payments for this purpose are not accepted.")),
    "channel_unknown": M(N_("There is no such payment channel.")),
    "notification_mismatch": M(
        N_(
            "The payment notification does not match the payment (amount, currency or payment); it was refused."
        )
    ),
    "no_channel_available": M(
        N_("No payment channel can take this payment right now; try another method or later.")
    ),
    "channel_not_usable": M(
        N_(
            "This payment channel cannot take this payment now (disabled, unavailable, or outside its limits)."
        )
    ),
    "payment_not_refundable": M(N_("Only a paid payment can be refunded.")),
    "refund_exceeds_payment": M(
        N_("At most %(refundable)s of this payment is left to refund."),
        N_("The refund is more than what is left of the payment."),
    ),
    "refund_id_conflict": M(N_("This refund id was already used for another refund.")),
    "invalid_refund_id": M(N_("A refund id is 1 to 64 letters, digits, '-' or '_'.")),
    "payment_already_paid": M(N_("The payment is already paid; refund it instead.")),
    "invalid_fee_rate": M(
        N_("A fee rate is a decimal fraction from 0 to %(maximum)s."),
        N_("A fee rate is a decimal fraction from 0 to 0.2."),
    ),
    "invalid_fee_fixed": M(N_("The fixed part of a fee is a non-negative amount.")),
    "invalid_channel_limits": M(
        N_(
            "A channel's minimum is at least ¥0.01 and its maximum is not below it; a preference is from -1000 to 1000."
        )
    ),
    "reserve_transfer_exceeds_fee_income": M(
        N_(
            "At most %(available)s of the platform's own money (fee income less channel fees) "
            "is in the reserve to move to the operating account."
        ),
        N_("The transfer is more than the platform's own money in the reserve."),
    ),
    "invalid_transfer_id": M(N_("A transfer id is 1 to 64 characters.")),
    "reserve_transfer_conflict": M(N_("This transfer id was already used for another transfer.")),
    "account_not_found": M(N_("The ledger account does not exist.")),
    "account_conflict": M(N_("The ledger account is already open with other settings.")),
    "invalid_account": M(N_("Not a valid ledger account id.")),
    "same_account": M(N_("The paying and the receiving account must differ.")),
    "invalid_transfer": M(
        N_("%(field)s of the transfer is not valid."), N_("The transfer is not valid.")
    ),
    "insufficient_funds": M(
        N_("Insufficient balance: %(available)s available."),
        N_("Insufficient balance."),
        amounts=("available",),
    ),
    "credit_limit_exceeded": M(
        N_("The account can take only %(available)s more."),
        N_("The account cannot take this much."),
        amounts=("available",),
    ),
    "idempotency_conflict": M(N_("This transfer id was already used for a different transfer.")),
    "transfer_not_found": M(N_("No such transfer.")),
    "pending_transfer_not_found": M(N_("No such pending transfer.")),
    "pending_transfer_already_resolved": M(
        N_("The pending transfer was already %(resolution)s."),
        N_("The pending transfer was already posted or voided."),
    ),
    "pending_transfer_expired": M(
        N_("The pending transfer expired at %(expires_at)s."),
        N_("The pending transfer has expired."),
    ),
    "post_amount_exceeds_pending": M(
        N_("Only %(pending)s was reserved; %(amount)s cannot be posted."),
        N_("The amount is more than was reserved."),
    ),
    "unknown_system_account": M(
        N_("%(account)s is not a platform account."), N_("Not a platform account.")
    ),
    "invalid_export_format": M(
        N_("The file format must be one of %(formats)s."), N_("Unknown file format.")
    ),
    "invalid_date_range": M(
        N_("The end date %(last_date)s is before the start date %(first_date)s."),
        N_("The end date is before the start date."),
    ),
    "date_range_too_long": M(
        N_("A report covers at most %(days)s days; choose a shorter range."),
        N_("This date range is too long; choose a shorter one."),
    ),
    # card products and the regulation
    "card_product_not_found": M(N_("No such card product.")),
    "card_not_found": M(N_("No such card.")),
    "card_batch_not_found": M(N_("No such card batch.")),
    "invalid_card_product": M(
        N_("%(field)s is not valid."), N_("The card product's terms are not valid.")
    ),
    "invalid_card_product.name_empty": M(N_("The name may not be empty.")),
    "invalid_card_product.currency": M(
        N_("%(currency)s is not accepted on this platform."),
        N_("This currency is not accepted on this platform."),
    ),
    "invalid_card_product.bin_prefix": M(N_("The BIN is 6 to 8 digits.")),
    "invalid_card_product.number_length": M(N_("Card numbers have 16 to 19 digits.")),
    "invalid_card_product.max_balance": M(N_("The maximum balance must be more than zero.")),
    "invalid_card_product.face_values_list_or_range": M(
        N_("Give either a list of face values or a range (lowest and highest), not both.")
    ),
    "invalid_card_product.face_values": M(
        N_("Face values must be more than zero and at most the maximum balance.")
    ),
    "invalid_card_product.face_value_range": M(
        N_(
            "The lowest face value must be more than zero and at most the highest, and the highest at most the maximum balance."
        )
    ),
    "invalid_card_product.validity_months": M(N_("Validity is 1 to 1200 months, or none.")),
    "invalid_card_product.store_ids_required": M(
        N_("Acceptance by chosen stores needs at least one store.")
    ),
    "invalid_card_product.merchant_ids_required": M(
        N_("Acceptance by several merchants needs at least one merchant.")
    ),
    "invalid_card_product.store_ids_unexpected": M(
        N_("Stores are chosen only for acceptance by chosen stores.")
    ),
    "invalid_card_product.merchant_ids_unexpected": M(
        N_("Merchants are chosen only for acceptance by several merchants.")
    ),
    "invalid_card_product.exchange_grace_days": M(
        N_("An exchange policy needs a grace period in days.")
    ),
    "invalid_card_product.exchange_ratio": M(
        N_("An exchange policy needs a ratio above 0 and at most 1.")
    ),
    "invalid_card_product.ratio_not_decimal": M(N_("The exchange ratio is not a decimal number.")),
    "invalid_card_product.named_not_in_batches": M(
        N_("Named cards are issued one by one to their holders, not in batches.")
    ),
    "invalid_card_product.batch_size": M(
        N_("A batch holds 1 to %(maximum)s cards."), N_("Too many or too few cards for a batch.")
    ),
    REGULATION_RULES: M(
        N_("The product breaks the prepaid-card regulation (%(rule)s)."),
        N_("The product breaks the prepaid-card regulation."),
    ),
    "regulation_violation.named_max_balance": M(
        N_(
            "Under Article 21 of the Measures for Single-Purpose Commercial Prepaid Cards, a named card may hold at most %(limit)s."
        ),
        N_(
            "Under Article 21 of the Measures for Single-Purpose Commercial Prepaid Cards, the maximum balance of a named card is limited."
        ),
    ),
    "regulation_violation.anonymous_max_balance": M(
        N_(
            "Under Article 21 of the Measures for Single-Purpose Commercial Prepaid Cards, an anonymous card may hold at most %(limit)s."
        ),
        N_(
            "Under Article 21 of the Measures for Single-Purpose Commercial Prepaid Cards, the maximum balance of an anonymous card is limited."
        ),
    ),
    "regulation_violation.is_named_expiry_forbidden": M(
        N_(
            "Under Article 22 of the Measures for Single-Purpose Commercial Prepaid Cards, a named card may not expire."
        )
    ),
    "regulation_violation.anonymous_min_validity_months": M(
        N_(
            "Under Article 22 of the Measures for Single-Purpose Commercial Prepaid Cards, an anonymous card must be valid for at least %(months)s months."
        ),
        N_(
            "Under Article 22 of the Measures for Single-Purpose Commercial Prepaid Cards, an anonymous card must be valid for a minimum period."
        ),
    ),
    "bin_range_conflict": M(
        N_("The BIN %(bin_prefix)s overlaps the BIN range %(existing)s of another product."),
        N_("The BIN overlaps the BIN range of another product."),
    ),
    "bin_range_exhausted": M(
        N_(
            "The BIN range %(bin_prefix)s has room for %(room)s more cards, not %(count)s; the product needs a new BIN range."
        ),
        N_("The BIN range has no room for these cards; the product needs a new BIN range."),
    ),
    "card_product_not_active": M(
        N_("The product is “%(status)s”: cards are issued only once the platform has approved it."),
        N_("Cards are issued only once the platform has approved the product."),
        groups=PRODUCT,
    ),
    "illegal_card_product_transition": M(
        N_("A product that is “%(status)s” cannot become “%(target)s”."),
        N_("The product's status does not allow this."),
        groups=PRODUCT,
    ),
    # cards
    "illegal_card_transition": M(
        N_("Cannot %(action)s a card that is “%(status)s” (only one that is %(allowed)s)."),
        N_("The card's status does not allow this."),
        groups=CARD,
    ),
    "illegal_card_transition.batch_not_completed": M(
        N_("Only a batch whose cards are all issued can be activated.")
    ),
    "illegal_card_transition.batch_already_activated": M(N_("The batch was already activated.")),
    "illegal_card_transition.batch_cards_sold": M(
        N_("%(count)s cards of the batch are no longer unsold; activate the others one by one."),
        N_("Some cards of the batch are no longer unsold; activate the others one by one."),
    ),
    "illegal_card_transition.balance_not_empty": M(
        N_("The card still holds %(balance)s; it can be closed only when empty."),
        N_("The card can be closed only when its balance is zero."),
    ),
    "card_holder_not_verified": M(
        N_("A named card needs a holder who is %(required_kyc)s; this holder is %(holder_kyc)s."),
        N_("A named card needs a holder whose identity is verified."),
    ),
    "invalid_face_value": M(
        N_("%(face_value)s is not a face value of %(product)s."),
        N_("The product does not offer this face value."),
    ),
    "invalid_face_value.not_listed": M(
        N_(
            "%(product)s is sold in face values %(face_values)s; %(face_value)s is not one of them."
        ),
        N_("The product does not offer this face value."),
    ),
    "invalid_face_value.out_of_range": M(
        N_(
            "%(product)s takes face values from %(minimum)s to %(maximum)s; %(face_value)s is outside."
        ),
        N_("The face value is outside the product's range."),
    ),
    "card_max_balance_exceeded": M(
        N_(
            "This would exceed the card's maximum balance of %(max_balance)s: it holds %(balance)s, and %(adding)s more is too much."
        ),
        N_("This would exceed the card's maximum balance."),
    ),
    "issuer_quota_exceeded": M(
        N_(
            "The issuer's cards already hold %(outstanding)s; %(amount)s more would exceed the issuing quota of %(quota)s."
        ),
        N_("This would exceed the issuing quota the platform granted."),
    ),
    "funding_amount_mismatch.card": M(
        N_("The card is worth %(expected)s; the payment of %(amount)s does not match it."),
        N_("The payment does not match the card's value."),
    ),
    "funding_amount_mismatch": M(
        N_(
            "The batch is worth %(expected)s (%(count)s cards × %(face_value)s); the transfer of %(amount)s does not match."
        ),
        N_("The transfer does not match the batch's value."),
    ),
    "card_batch_not_ready": M(
        N_(
            "The batch has issued %(issued)s of %(total)s cards; the export is ready when it completes."
        ),
        N_("The batch is not complete yet; the export is ready when it completes."),
    ),
    "card_export_already_downloaded": M(
        N_("The export was already downloaded; it can be taken only once.")
    ),
    "export_password_too_short": M(
        N_("The export password needs at least %(minimum)s characters."),
        N_("The export password is too short."),
    ),
    "export_password_wrong": M(N_("The password does not open this export.")),
    "export_file_invalid": M(N_("Not a Tongka card export file, or the file is damaged.")),
    "card_merge_not_allowed": M(N_("Only cards of one product and one holder can be merged.")),
    "card_merge_invalid_sources": M(N_("Choose at least one card to merge into the target.")),
    "card_merge_invalid_sources.target_in_sources": M(
        N_("The target card cannot also be one of the cards merged into it.")
    ),
    "card_merge_invalid_sources.repeated": M(N_("Each card to merge may be chosen only once.")),
    "card_exchange_not_allowed": M(
        N_("The card's product allows no exchange, or the exchange period has ended.")
    ),
    "card_exchange_not_allowed.grace_ended": M(
        N_("The card's exchange period ended at %(until)s."),
        N_("The card's exchange period has ended."),
    ),
    "card_movement_refused": M(
        N_("A %(purpose)s is not possible on a card that is “%(status)s”."),
        N_("The card's status does not allow this."),
        groups=CARD,
    ),
    "card_frozen": M(
        N_("The card is frozen by the %(frozen_by)s (%(reason)s)."),
        N_("The card is frozen."),
    ),
    "card_freeze_held_by_other_side": M(
        N_(
            "The card was frozen by the %(frozen_by)s; only the %(frozen_by)s or the platform may unfreeze it."
        ),
        N_("Only the side that froze the card, or the platform, may unfreeze it."),
    ),
    "card_credentials_invalid": M(N_("The card number or the card secret is wrong.")),
    "card_locked": M(N_("Too many wrong attempts; the card is locked for a while.")),
    "balance_inquiry_rate_limited": M(N_("Too many balance inquiries; please try again later.")),
    "unknown_merchant": M(
        N_("There is no merchant %(merchant_id)s."), N_("There is no such merchant.")
    ),
    "acceptance_not_agreed": M(
        N_(
            "%(field)s: %(ids)s must be the issuer's own, or belong to a merchant with an acceptance agreement in force."
        ),
        N_(
            "Every store and merchant must be the issuer's own, or have an acceptance agreement in force."
        ),
    ),
    "acceptance_agreement_not_found": M(N_("No such acceptance agreement.")),
    "acceptance_agreement_exists": M(
        N_("An acceptance agreement with this merchant is already proposed or in force.")
    ),
    "acceptance_agreement_with_self": M(
        N_("An issuer's own stores accept its cards without an agreement.")
    ),
    "illegal_acceptance_agreement_transition": M(
        N_("An agreement that is “%(status)s” cannot become “%(target)s”."),
        N_("The agreement's status does not allow this."),
        groups=AGREEMENT,
    ),
    "acceptance_agreement_wrong_party": M(
        N_("Only the accepting merchant approves or rejects an agreement.")
    ),
    "card_holder_already_bound": M(N_("The card already has a holder.")),
    "card_not_bindable": M(
        N_("A card that is “%(status)s” cannot be bound to a holder."),
        N_("This card cannot be bound to a holder."),
        groups=CARD,
    ),
    "holder_binding_rate_limited": M(
        N_("A code for this card was sent a moment ago; wait before asking again.")
    ),
    "holder_binding_rate_limited.daily_limit": M(
        N_("No more than %(limit)s binding codes a day go to one number."),
        N_("Too many binding codes went to this number today."),
    ),
    # identity
    "invalid_credentials": M(N_("Wrong email or password.")),
    "merchant_not_active": M(
        N_("The merchant is “%(status)s”; only active merchants can do business."),
        N_("Only active merchants can do business."),
        groups=MERCHANT,
    ),
    "illegal_status_transition": M(
        N_("Cannot %(decision)s a merchant that is “%(status)s”."),
        N_("The merchant's status does not allow this."),
        groups=MERCHANT,
    ),
    "already_exists": M(
        N_("A %(object)s with this %(field)s already exists."), N_("This already exists.")
    ),
    "password_too_short": M(
        N_("The password must be at least %(minimum)s characters long."),
        N_("The password is too short."),
    ),
    "invalid_phone": M(
        N_("A mainland China mobile number of 11 digits is required (e.g. 13800138000).")
    ),
    "sms_not_configured": M(N_("Text messages cannot be sent: no SMS gateway is configured.")),
    "login_code_rate_limited": M(
        N_("A code was sent to this number a moment ago; wait before asking again.")
    ),
    "login_code_daily_limit": M(
        N_("No more than %(limit)s codes a day go to one number; try again later."),
        N_("Too many codes went to this number today; try again later."),
    ),
    "invalid_credit_code": M(
        N_(
            "The unified social credit code is not valid (18 digits and capital letters, with a matching check character)."
        )
    ),
    "invalid_bank_account": M(N_("A bank account number is 8 to 32 digits.")),
    "rejection_reason_required": M(N_("A rejection needs a reason.")),
    "coordinate_out_of_range": M(
        N_("%(field)s must be between -%(limit)s and %(limit)s."),
        N_("The coordinates are out of range."),
    ),
    "invalid_role": M(
        N_("The role must be one of: %(roles)s."),
        N_("This role is not possible here."),
        groups={"roles": "role"},
    ),
    "platform_has_no_store": M(N_("Platform users and keys belong to no store.")),
    "merchant_id_required": M(N_("Choose the merchant this is for.")),
    "permission_denied.platform_key_admin_only": M(
        N_("Only platform admins create platform keys.")
    ),
    "permission_denied.merchant_or_platform_only": M(
        N_("This is for merchant and platform staff.")
    ),
    "permission_denied.webhook_endpoints_merchant_only": M(
        N_("Webhook endpoints are registered by merchants.")
    ),
    # sign-in, API keys, sessions
    "invalid_api_key": M(N_("The API key is unknown or revoked.")),
    "invalid_authorization_header": M(N_("Send the API key as “Authorization: Bearer <API key>”.")),
    "session_expired": M(N_("Your session has expired; please sign in again.")),
    "csrf_token_invalid": M(
        N_("The form expired or did not come from this site; reload the page.")
    ),
    # the API's own
    "event_not_found": M(N_("No such event.")),
    "idempotency_key_reused": M(
        N_("This idempotency key was already used for a different request.")
    ),
    "idempotency_request_in_progress": M(
        N_("The same request is still being processed; try again in a moment.")
    ),
    # webhooks
    "webhook_endpoint_not_found": M(N_("No such webhook endpoint.")),
    "webhook_endpoint_disabled": M(N_("A disabled webhook endpoint has no secret to rotate.")),
    "url_invalid": M(N_("The URL is not valid.")),
    "url_invalid.too_long": M(
        N_("The URL may be at most %(maximum)s characters long."), N_("The URL is too long.")
    ),
    "url_invalid.malformed": M(N_("The URL is not valid.")),
    "url_invalid.scheme": M(
        N_("The URL must start with %(schemes)s."), N_("The URL's scheme is not allowed.")
    ),
    "url_invalid.host_required": M(N_("The URL needs a host name.")),
    "url_invalid.credentials": M(N_("The URL may not contain a user name or password.")),
    "url_destination_refused": M(
        N_("The URL's host %(host)s is not reachable or resolves to a private address."),
        N_("The URL's host is not reachable or resolves to a private address."),
    ),
    # redemption controls: limits, the second factor, payment codes
    "limit_exceeded": M(N_("A redemption limit of this card, terminal or product was reached.")),
    "redemption_limit_out_of_bounds": M(
        N_("This limit is above the platform's bound of %(bound)s."),
        N_("This limit is above the platform's bound."),
    ),
    "redemption_limit_invalid": M(
        N_("A limit must be a positive whole number, or empty for none.")
    ),
    "challenge_required": M(
        N_("The holder must confirm this payment with the code texted to their phone.")
    ),
    "challenge_failed": M(
        N_("The confirmation code is wrong; %(attempts_left)s tries left."),
        N_("The confirmation code is wrong."),
    ),
    "challenge_locked": M(N_("Too many wrong confirmation codes; start the payment again.")),
    "challenge_expired": M(N_("The confirmation code has expired; start the payment again.")),
    "challenge_invalid": M(
        N_("This confirmation does not belong to this payment, or was already used.")
    ),
    "challenge_unavailable": M(
        N_(
            "This payment needs the holder's confirmation, but the card has no holder phone to text."
        )
    ),
    "payment_code_unknown": M(N_("This is not a valid payment code.")),
    "payment_code_used": M(N_("This payment code was already used; ask for a new one.")),
    "payment_code_expired": M(N_("This payment code has expired; ask the holder to refresh it.")),
    "payment_code_card_unusable": M(N_("This card cannot pay now.")),
    # redemption
    "redemption_not_found": M(N_("No such redemption.")),
    "allocation_invalid": M(N_("Give every card its share; the shares must add up to the amount.")),
    "refund_exceeds_redeemed": M(
        N_("A refund cannot exceed what was taken less what was refunded already.")
    ),
    "refund_card_unavailable": M(
        N_("The card is expired or closed: the value cannot go back onto it. Refund another way.")
    ),
    "redemption_not_refundable": M(
        N_("Nothing was taken by this redemption, so nothing can be refunded.")
    ),
    "authorization_not_open": M(
        N_("This authorization was already captured, voided, reversed or has expired.")
    ),
    "capture_exceeds_hold": M(N_("A capture cannot exceed the authorized amount.")),
    "store_not_allowed": M(N_("You may redeem only at your own store and its terminals.")),
    # redemption declines (answers, not errors: the cashier page words them with these)
    "card_inactive": M(N_("The card is not active: it cannot pay.")),
    "card_expired": M(N_("The card has expired: it cannot pay.")),
    "not_accepted_here": M(N_("This card is not accepted at this store.")),
    "wrong_secret": M(N_("The card number or the card secret is wrong.")),
    "reversed": M(N_("This payment was reversed: nothing was taken.")),
    "payment_codes_unavailable": M(
        N_("Payment codes are not available yet; use the card number and secret.")
    ),
    **MONEY_MESSAGES,
}

__all__ = ["MESSAGES", "REGULATION_RULES", "Message"]
