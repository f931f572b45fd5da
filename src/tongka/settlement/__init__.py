"""Settlement: merchant contracts and fees, split rules (分账), T+N settlement batches and
payouts. See ``README.md`` here."""
