"""Settlement: merchant contracts and fees, split rules (分账), T+N settlement batches and
payouts. See ``README.md`` here."""

# The deposit ratio's tables (预收资金存管), registered with the settlement package so
# ``tongka.db.models.import_all_models`` finds them.
from tongka.settlement import deposit_models as _deposit_models  # noqa: E402,F401
