"""Refunds: reserved on the payment, executed against the gateway, applied once."""
