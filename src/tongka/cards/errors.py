"""The card part's typed errors (stable ``code``; messages say what was wrong)."""

from __future__ import annotations

from tongka.errors import (
    BusinessRuleViolation,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
)


class CardProductNotFound(NotFound):
    code = "card_product_not_found"


class CardNotFound(NotFound):
    code = "card_not_found"


class CardBatchNotFound(NotFound):
    code = "card_batch_not_found"


class InvalidCardProduct(InvalidRequest):
    code = "invalid_card_product"


class RegulationViolation(BusinessRuleViolation):
    """A product breaks the prepaid-card regulation (the message cites the article)."""

    code = "regulation_violation"


class BinRangeConflict(Conflict):
    code = "bin_range_conflict"


class BinRangeExhausted(BusinessRuleViolation):
    code = "bin_range_exhausted"


class ProductNotActive(BusinessRuleViolation):
    code = "card_product_not_active"


class IllegalProductTransition(BusinessRuleViolation):
    code = "illegal_card_product_transition"


class IllegalCardTransition(BusinessRuleViolation):
    code = "illegal_card_transition"


class HolderNotVerified(BusinessRuleViolation):
    code = "card_holder_not_verified"


class InvalidFaceValue(InvalidRequest):
    code = "invalid_face_value"


class MaxBalanceExceeded(BusinessRuleViolation):
    code = "card_max_balance_exceeded"


class IssuerQuotaExceeded(BusinessRuleViolation):
    code = "issuer_quota_exceeded"


class FundingAmountMismatch(BusinessRuleViolation):
    code = "funding_amount_mismatch"


class BatchNotReady(BusinessRuleViolation):
    code = "card_batch_not_ready"


class ExportAlreadyDownloaded(Conflict):
    code = "card_export_already_downloaded"


class MergeNotAllowed(BusinessRuleViolation):
    code = "card_merge_not_allowed"


class ExchangeNotAllowed(BusinessRuleViolation):
    code = "card_exchange_not_allowed"


class InvalidMergeSources(BusinessRuleViolation):
    """A merge names a source twice or the target among its sources (``source_card_ids``)."""

    code = "card_merge_invalid_sources"


class CardMovementRefused(BusinessRuleViolation):
    """The money gate refuses: the card's status does not allow this direction for this
    purpose (``details``: card_id, status, direction, purpose, allowed)."""

    code = "card_movement_refused"


class CardFrozen(CardMovementRefused):
    """No value may leave a frozen card (``details`` add frozen_by and reason)."""

    code = "card_frozen"


class FreezeHeldByOtherSide(PermissionDenied):
    """Only the side that froze a card (holder, issuer) or the platform may lift the freeze."""

    code = "card_freeze_held_by_other_side"


class CardCredentialsInvalid(InvalidRequest):
    """Unknown number or wrong secret: deliberately the same answer for both."""

    code = "card_credentials_invalid"


class CardLocked(RateLimited):
    code = "card_locked"


class InquiryRateLimited(RateLimited):
    code = "balance_inquiry_rate_limited"


class UnknownMerchant(BusinessRuleViolation):
    """A merchant id in a request names no merchant (422; ``param`` says which field)."""

    code = "unknown_merchant"


class AcceptanceNotAgreed(BusinessRuleViolation):
    """A product names stores or merchants it may not: unknown ids, or another merchant's
    without an approved acceptance agreement (受理协议). Deliberately one answer for both,
    so a product form never tells whether another merchant's store exists."""

    code = "acceptance_not_agreed"


class AcceptanceAgreementNotFound(NotFound):
    code = "acceptance_agreement_not_found"


class AcceptanceAgreementExists(Conflict):
    """The two merchants already have a proposed or approved agreement."""

    code = "acceptance_agreement_exists"


class IllegalAgreementTransition(BusinessRuleViolation):
    code = "illegal_acceptance_agreement_transition"


class NotAgreementParty(PermissionDenied):
    """The caller is a party to the agreement, but not the one who may take this step."""

    code = "acceptance_agreement_wrong_party"


class CardAlreadyBound(Conflict):
    code = "card_holder_already_bound"


class CardNotBindable(BusinessRuleViolation):
    code = "card_not_bindable"


class BindingCodeRateLimited(RateLimited):
    code = "holder_binding_rate_limited"
