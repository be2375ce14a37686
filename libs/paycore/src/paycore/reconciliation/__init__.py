"""Reconciliation: our payments against the gateway's records, and the janitor for payments
and refund reservations left in an unknown state."""
