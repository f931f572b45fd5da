"""reconciliation (对账): channel and bank statements matched against the ledger; see README.md."""
