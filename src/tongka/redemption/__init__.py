"""redemption — spending a card (核销): redeem, authorize/capture/void, refund, reverse."""

# The controls' tables (decision point, limits, challenges, payment codes): imported here so
# ``tongka.db.models.import_all_models`` registers them with the redemption package.
from tongka.redemption import control_models as _control_models  # noqa: E402,F401
