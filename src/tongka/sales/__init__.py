"""sales — orders for cards and top-ups, bonuses (充值赠送), receipts, enterprise purchases."""

# The receipts' table: imported here so ``tongka.db.models.import_all_models`` registers it
# with the sales package (``sales.models`` belongs to the orders).
# The promotions' tables (充值赠送), registered the same way.
from tongka.sales import promotion_models as _promotion_models  # noqa: E402,F401
from tongka.sales import receipt_models as _receipt_models  # noqa: E402,F401
from tongka.sales import return_models as _return_models  # noqa: E402,F401
