"""webhook-ingress service."""
