"""email-worker service."""
