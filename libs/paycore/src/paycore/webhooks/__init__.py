"""Webhooks: the stored log of every Cashfree delivery, and applying it to our state."""
