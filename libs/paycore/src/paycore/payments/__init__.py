"""Payments: documents, the lifecycle table, queries and use cases."""
