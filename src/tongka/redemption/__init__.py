"""redemption — spending a card (核销): redeem, authorize/capture/void, refund, reverse."""
