"""payments-api service."""
