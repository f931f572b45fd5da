"""Settlement's coded errors (words for each code: ``web/error_registry.py``)."""

from __future__ import annotations

from tongka.errors import BusinessRuleViolation, Conflict, InvalidRequest, NotFound


class ContractInvalid(InvalidRequest):
    """A contract term is out of range (a rate, a cycle, a reserve...); ``param`` names it."""

    code = "contract_invalid"


class ContractRetroactive(BusinessRuleViolation):
    """A contract version applies from a date on; it cannot start before today or before
    the latest version (what already happened keeps the terms it happened under)."""

    code = "contract_retroactive"


class AccountNameMismatch(BusinessRuleViolation):
    """The settlement account's name must be the merchant's verified name (no third-party
    payouts)."""

    code = "settlement_account_name_mismatch"


class MerchantNotVerified(BusinessRuleViolation):
    code = "merchant_not_verified"


class ContractConflict(Conflict):
    """Another version was written at the same moment: read the contracts and try again."""

    code = "contract_conflict"


class ContractNotFound(NotFound):
    code = "contract_not_found"


class BatchNotFound(NotFound):
    code = "settlement_batch_not_found"


class PayoutNotFound(NotFound):
    code = "payout_not_found"


class NotABusinessDay(BusinessRuleViolation):
    """Settlement runs for business days; a weekend's or holiday's movements belong to the
    next business day's batch."""

    code = "not_a_business_day"


class SplitInvalid(InvalidRequest):
    """A split rule that cannot divide an amount: no parties, shares over the whole, a
    remainder party that is not among the parties..."""

    code = "split_invalid"


class InvalidIssuerClass(InvalidRequest):
    code = "invalid_issuer_class"


class PayoutResultsInvalid(InvalidRequest):
    """A bank result file (代付结果文件) that cannot be read: nothing of it is applied."""

    code = "payout_results_invalid"
