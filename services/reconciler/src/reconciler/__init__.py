"""reconciler service."""
