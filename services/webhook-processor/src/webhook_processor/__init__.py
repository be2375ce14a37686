"""webhook-processor service."""
