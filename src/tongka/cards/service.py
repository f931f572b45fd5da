"""The card part's use cases, in one place for the API, console, CLI and other parts.

Every function takes an ``AsyncSession`` and ``now`` and never commits: the caller owns
the transaction. Scoping: ``merchant_id`` (the caller's own, or ``None`` for the platform)
limits every lookup, so another merchant's objects are simply not found.
"""

from tongka.cards.accounts import CardBalance, card_balance, card_balances
from tongka.cards.history import CardTransaction, HistoryPage, card_history
from tongka.cards.inquiry import BalanceAnswer, inquire_balance
from tongka.cards.issuing import (
    BatchStatus,
    CardStatus,
    IssuedCard,
    create_batch,
    get_batch,
    issue_card,
    issue_next_chunk,
    list_batches,
    run_batch,
    take_export,
)
from tongka.cards.lifecycle import (
    CardFunding,
    activate_card,
    cards_query,
    close_card,
    exchange_expired_card,
    expire_due_cards,
    find_card_by_number,
    freeze_card,
    fund_batch,
    get_card,
    merge_cards,
    reissue_card,
    report_lost,
    unfreeze_card,
)
from tongka.cards.products import (
    Acceptance,
    BreakagePolicy,
    CardForm,
    ProductSpec,
    ProductStatus,
    RegulationRules,
    create_product,
    get_product,
    get_regulation,
    list_products,
    review_product,
    set_regulation,
    submit_product,
)
from tongka.cards.quota import outstanding_balance, set_quota

__all__ = [
    "Acceptance",
    "BalanceAnswer",
    "BatchStatus",
    "BreakagePolicy",
    "CardBalance",
    "CardForm",
    "CardFunding",
    "CardStatus",
    "CardTransaction",
    "HistoryPage",
    "IssuedCard",
    "ProductSpec",
    "ProductStatus",
    "RegulationRules",
    "activate_card",
    "card_balance",
    "card_balances",
    "card_history",
    "cards_query",
    "find_card_by_number",
    "close_card",
    "create_batch",
    "create_product",
    "exchange_expired_card",
    "expire_due_cards",
    "freeze_card",
    "fund_batch",
    "get_batch",
    "get_card",
    "get_product",
    "get_regulation",
    "inquire_balance",
    "issue_card",
    "issue_next_chunk",
    "list_batches",
    "list_products",
    "merge_cards",
    "outstanding_balance",
    "reissue_card",
    "report_lost",
    "review_product",
    "run_batch",
    "set_quota",
    "set_regulation",
    "submit_product",
    "take_export",
    "unfreeze_card",
]
