"""Words for the codes that domain errors carry as parameters (``details``, ``param``).

An error names a field, a status, a regulation rule or an action by its code; a message
shown to people names it in words. ``WORDS[group][code]`` is the English text (translated
where it is shown); ``PARAMETER_GROUPS`` says which group a parameter's value belongs to.
A value without words is left out, so the message falls back to its wording without it.
"""

from __future__ import annotations

from tongka.web.i18n import N_

CARD_STATUS = {
    "issued": N_("Issued (not activated)"),
    "active": N_("Active"),
    "frozen": N_("Frozen"),
    "lost": N_("Reported lost"),
    "expired": N_("Expired"),
    "closed": N_("Closed"),
}

PRODUCT_STATUS = {
    "draft": N_("Draft"),
    "pending_review": N_("Pending review"),
    "active": N_("Active"),
    "rejected": N_("Rejected"),
}

AGREEMENT_STATUS = {
    "proposed": N_("Proposed"),
    "approved": N_("In force"),
    "rejected": N_("Rejected"),
    "revoked": N_("Ended"),
}

MERCHANT_STATUS = {
    "pending_review": N_("Pending review"),
    "active": N_("Active"),
    "rejected": N_("Rejected"),
    "suspended": N_("Suspended"),
}

WORDS: dict[str, dict[str, str]] = {
    "field": {
        "account_id": N_("Ledger account"),
        "acceptor_merchant_id": N_("Accepting merchant"),
        "accepted_merchant_ids": N_("Accepting merchants"),
        "accepted_store_ids": N_("Accepting stores"),
        "agreement_id": N_("Acceptance agreement"),
        "amount": N_("Amount"),
        "batch_id": N_("Card batch"),
        "bin_prefix": N_("BIN"),
        "card_id": N_("Card"),
        "card_ids": N_("Cards"),
        "code": N_("Code"),
        "count": N_("Number of cards"),
        "credit_code": N_("Unified social credit code"),
        "currency": N_("Currency"),
        "device_id": N_("Device id"),
        "effective_date": N_("Effective from"),
        "email": N_("Email"),
        "enabled_events": N_("Event types"),
        "exchange_grace_days": N_("Exchange grace period (days)"),
        "exchange_ratio": N_("Exchange ratio"),
        "export_password": N_("Export password"),
        "face_value": N_("Face value"),
        "face_value_max": N_("Highest face value"),
        "face_value_min": N_("Lowest face value"),
        "face_values": N_("Face values"),
        "format": N_("File format"),
        "holder_id": N_("Card holder"),
        "issuer_merchant_id": N_("Issuing merchant"),
        "latitude": N_("Latitude"),
        "limit": N_("Page size"),
        "longitude": N_("Longitude"),
        "max_balance": N_("Maximum balance"),
        "merchant_id": N_("Merchant"),
        "name": N_("Name"),
        "number": N_("Card number"),
        "number_length": N_("Card number length"),
        "password": N_("Password"),
        "pending_id": N_("Pending transfer"),
        "phone": N_("Phone number"),
        "product_id": N_("Card product"),
        "rate": N_("Rate"),
        "reason": N_("Reason"),
        "role": N_("Role"),
        "settlement_account.account_number": N_("Settlement account number"),
        "source_card_ids": N_("Cards to merge"),
        "status": N_("Status"),
        "store_id": N_("Store"),
        "transfer_id": N_("Transfer id"),
        "transfer_reference": N_("Payment reference"),
        "url": N_("URL"),
        "validity_months": N_("Validity (months)"),
    },
    "object": {
        "api_key": N_("API key"),
        "card": N_("card"),
        "card_product": N_("card product"),
        "consumer": N_("card holder"),
        "merchant": N_("merchant"),
        "store": N_("store"),
        "terminal": N_("terminal"),
        "user": N_("user"),
        "webhook endpoint": N_("webhook endpoint"),
    },
    "regulation_rule": {
        "anonymous_max_balance": N_("Maximum balance of an anonymous card"),
        "anonymous_min_validity_months": N_("Minimum validity of an anonymous card"),
        "is_named_expiry_forbidden": N_("Named cards do not expire"),
        "named_max_balance": N_("Maximum balance of a named card"),
    },
    "card_status": CARD_STATUS,
    "product_status": PRODUCT_STATUS,
    "agreement_status": AGREEMENT_STATUS,
    "merchant_status": MERCHANT_STATUS,
    "card_action": {
        "activate": N_("activate"),
        "close": N_("close"),
        "exchange": N_("exchange"),
        "expire": N_("expire"),
        "freeze": N_("freeze"),
        "merge": N_("merge"),
        "reissue": N_("reissue"),
        "report_lost": N_("report lost"),
        "unfreeze": N_("unfreeze"),
    },
    "merchant_decision": {
        "approve": N_("approve"),
        "reject": N_("reject"),
        "suspend": N_("suspend"),
    },
    "movement": {
        "activation": N_("activation"),
        "buyback": N_("buy-back"),
        "close": N_("closing"),
        "merge": N_("merge"),
        "redemption": N_("redemption"),
        "refund": N_("refund"),
        "reissue": N_("reissue"),
        "top_up": N_("top-up"),
    },
    "side": {
        "holder": N_("card holder"),
        "issuer": N_("issuer"),
        "platform": N_("platform"),
    },
    "kyc": {
        "none": N_("not verified"),
        "phone": N_("phone verified"),
        "id_card": N_("ID card verified"),
        "bank_card": N_("bank card verified"),
    },
    "resolution": {
        "posted": N_("posted"),
        "voided": N_("voided"),
    },
    # settlement.splits / split_rules: what is wrong with a split rule (分账); a problem that
    # names a party has no words here and the message shows without it
    "split_problem": {
        "no parties": N_("no party has a share"),
        "a party is listed twice": N_("a party is listed twice"),
        "the percents do not add up to 100 %": N_(
            "the percents do not add up to a hundred (or give the remainder to a party)"
        ),
        "the percents add up to more than 100 %": N_("the percents add up to more than a hundred"),
        "the remainder party is not among the parties": N_(
            "the party that takes the remainder has no share"
        ),
        "a share is capped but no party takes what the cap cuts": N_(
            "a share is capped, so choose the party that takes what the cap cuts"
        ),
        "the party that takes what caps cut is capped itself": N_(
            "the party that takes what caps cut is capped itself"
        ),
        "the remainder rule is unknown": N_("the remainder rule is unknown"),
        "the issuer and the acceptor are the same merchant": N_(
            "the issuer and the acceptor are the same merchant"
        ),
        "the effective date is in the past": N_("the effective date is in the past"),
    },
}

# parameter name -> the group of its value's words, unless a message says otherwise
# (``Message.groups``); parameters named nowhere show as given
PARAMETER_GROUPS = {
    "field": "field",
    "object": "object",
    "rule": "regulation_rule",
    "action": "card_action",
    "decision": "merchant_decision",
    "purpose": "movement",
    "frozen_by": "side",
    "required_kyc": "kyc",
    "holder_kyc": "kyc",
    "resolution": "resolution",
}
