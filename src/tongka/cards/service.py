"""The card part's use cases, in one place for the API, console, CLI and other parts.

Every function takes an ``AsyncSession`` and ``now`` and never commits: the caller owns
the transaction. Value onto or off a card moves only through ``move_card_value`` (the
money gate, ``money_gate.py``). Scoping: ``merchant_id`` (the caller's own, or ``None``
for the platform) limits every lookup, so another merchant's objects are simply not found.
"""

from tongka.cards.acceptance import (
    AgreementStatus,
    agreements_query,
    decide_agreement,
    get_agreement,
    is_accepted_at,
    propose_agreement,
    revoke_agreement,
)
from tongka.cards.accounts import CardBalance, card_balance, card_balances
from tongka.cards.batches import (
    batches_query,
    cancel_batch,
    create_batch,
    get_batch,
    issue_next_chunk,
    list_batches,
    run_batch,
    take_export,
)
from tongka.cards.binding import (
    BindingConfirmation,
    BindingStatus,
    confirm_binding,
    pending_bindings_query,
    request_binding,
)
from tongka.cards.expiry import exchange_expired_card, expire_due_cards
from tongka.cards.funding import CardFunding, activate_card, fund_batch, fund_card
from tongka.cards.history import CardTransaction, HistoryPage, card_history
from tongka.cards.inquiry import BalanceAnswer, inquire_balance
from tongka.cards.issuing import (
    DEFAULT_CHUNK_SIZE,
    BatchProgress,
    BatchStatus,
    CardStatus,
    IssuedCard,
    issue_card,
)
from tongka.cards.lifecycle import (
    LIFECYCLE_ACTIONS,
    FreezeSide,
    apply_lifecycle_action,
    cards_query,
    close_card,
    find_card_by_number,
    freeze_card,
    get_card,
    report_lost,
    transition_card,
    unfreeze_card,
)
from tongka.cards.money_gate import (
    CardMovement,
    Direction,
    LockedCards,
    MovedValue,
    Purpose,
    move_card_value,
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
    products_query,
    review_product,
    set_regulation,
    submit_product,
)
from tongka.cards.quota import outstanding_balance, set_quota
from tongka.cards.reissue import merge_cards, reissue_card

__all__ = [
    "AgreementStatus",
    "BindingConfirmation",
    "BindingStatus",
    "agreements_query",
    "confirm_binding",
    "decide_agreement",
    "get_agreement",
    "is_accepted_at",
    "pending_bindings_query",
    "propose_agreement",
    "request_binding",
    "revoke_agreement",
    "LIFECYCLE_ACTIONS",
    "apply_lifecycle_action",
    "BatchProgress",
    "DEFAULT_CHUNK_SIZE",
    "Acceptance",
    "BalanceAnswer",
    "BatchStatus",
    "BreakagePolicy",
    "CardBalance",
    "CardForm",
    "CardFunding",
    "CardMovement",
    "Direction",
    "FreezeSide",
    "LockedCards",
    "MovedValue",
    "Purpose",
    "move_card_value",
    "CardStatus",
    "CardTransaction",
    "HistoryPage",
    "IssuedCard",
    "ProductSpec",
    "ProductStatus",
    "RegulationRules",
    "activate_card",
    "batches_query",
    "card_balance",
    "card_balances",
    "card_history",
    "cards_query",
    "find_card_by_number",
    "close_card",
    "cancel_batch",
    "create_batch",
    "create_product",
    "exchange_expired_card",
    "expire_due_cards",
    "freeze_card",
    "fund_batch",
    "fund_card",
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
    "products_query",
    "reissue_card",
    "report_lost",
    "review_product",
    "run_batch",
    "set_quota",
    "set_regulation",
    "submit_product",
    "take_export",
    "transition_card",
    "unfreeze_card",
]
