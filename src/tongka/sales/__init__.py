"""sales — orders for cards and top-ups, bonuses (充值赠送), receipts, enterprise purchases."""
