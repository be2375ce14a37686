"""The audit trail: append-only, hash-chained records of money-affecting actions."""
