"""``/v1/card_products``, ``/v1/cards``, ``/v1/card_batches``, ``/v1/balance_inquiries``,
``/v1/card_issuer_quotas``, ``/v1/card_regulation``, ``/v1/acceptance_agreements`` and the
holder bindings (``/v1/cards/{id}/holder_bindings``, ``/v1/holder_bindings/confirm``).

Thin: validate, scope to the caller, call ``tongka.cards.service``, shape the answer. One
module per resource; ``common`` holds what they share.
"""

from __future__ import annotations

from fastapi import APIRouter

from tongka.api.cards import agreements, batches, bindings, cards, inquiry, products, rules
from tongka.api.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES)
for _module in (products, cards, batches, rules, agreements, bindings):
    router.include_router(_module.router)
public_router = inquiry.public_router

__all__ = ["public_router", "router"]
