"""The promotions' typed errors (stable ``code``; the words are in ``web/error_registry.py``)."""

from __future__ import annotations

from tongka.errors import BusinessRuleViolation, Conflict, InvalidRequest, NotFound


class PromotionNotFound(NotFound):
    code = "promotion_not_found"


class InvalidPromotion(InvalidRequest):
    """A promotion that cannot be run as asked; ``details["problem"]`` says why."""

    code = "invalid_promotion"


class PromotionFundsInsufficient(BusinessRuleViolation):
    """The merchant's own account (its payable) holds less than the budget it would fund."""

    code = "promotion_funds_insufficient"


class BonusAlreadyPosted(Conflict):
    """An order's bonus is on the card already: it can no longer be given back."""

    code = "bonus_already_posted"


class BonusNotClaimed(Conflict):
    """An order has no claimed bonus to post (none applied, or it was given back)."""

    code = "bonus_not_claimed"
