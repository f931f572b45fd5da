"""Reconciliation's coded errors (words for each code: ``web/error_registry.py``)."""

from __future__ import annotations

from tongka.errors import BusinessRuleViolation, Conflict, InvalidRequest, NotFound


class ReconciliationNotFound(NotFound):
    code = "reconciliation_not_found"


class ReconciliationExceptionNotFound(NotFound):
    code = "reconciliation_exception_not_found"


class ResolutionNotFound(NotFound):
    code = "reconciliation_resolution_not_found"


class ReconciliationInProgress(Conflict):
    """Another run of the same day and channel has not finished: wait for it."""

    code = "reconciliation_in_progress"


class ExceptionAlreadyResolved(Conflict):
    """An exception takes one resolution; it has one already (read it)."""

    code = "reconciliation_exception_resolved"


class NothingToAdjust(BusinessRuleViolation):
    """The exception moves no money (a date shift): match it by hand instead."""

    code = "reconciliation_nothing_to_adjust"


class SameApprover(BusinessRuleViolation):
    """Four eyes: who proposed an adjustment cannot approve it."""

    code = "reconciliation_same_approver"


class NotAnAdjustment(BusinessRuleViolation):
    """Only an adjustment waits for approval; a match by hand is final at once."""

    code = "reconciliation_not_an_adjustment"


class StatementUnavailable(Conflict):
    """The channel's statement of the day cannot be had now (the channel did not answer,
    or has none yet): nothing was imported; try again later."""

    code = "reconciliation_statement_unavailable"


class DayNotOver(BusinessRuleViolation):
    """A day's statement exists once the day has ended (platform time)."""

    code = "reconciliation_day_not_over"


class StatementInvalid(InvalidRequest):
    """A statement file that cannot be read (a missing column, a bad amount or date)."""

    code = "reconciliation_statement_invalid"


class StatementEmpty(InvalidRequest):
    """An uploaded statement file with nothing in it (or none chosen)."""

    code = "reconciliation_statement_empty"
