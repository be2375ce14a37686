"""refund-worker service."""
