"""Webhooks: merchants' endpoints, signed delivery of events with retries, and the receiver's
signature check (``verify_signature``, documented in ``docs/webhooks.md``).

- ``models.py``: endpoints (secret sealed with AES-GCM), deliveries (one per event and
  endpoint), attempts (one row per HTTP try).
- ``service.py``: endpoint use cases and the fan-out of a recorded event into deliveries.
- ``delivery.py``: the worker job that claims due deliveries, sends and reschedules them.
- ``signing.py``: the ``Tongka-Signature`` header (standard library only).
"""

from tongka.webhooks.signing import SIGNATURE_HEADER, WebhookSignatureError, verify_signature

__all__ = ["SIGNATURE_HEADER", "WebhookSignatureError", "verify_signature"]
