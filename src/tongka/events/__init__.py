"""Business events, recorded in the same transaction as the change they describe (outbox).

``record_event`` is how every part says what happened; the webhook worker delivers the
events to merchants after commit.
"""

from tongka.events.service import record_event

__all__ = ["record_event"]
