"""Credit-limit review: a business workflow over the demo ledger."""
