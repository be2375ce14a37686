"""What fraud screening refuses (status, stable code; the docstring is the message)."""

from paycore.kit.errors import Forbidden


class FraudBlocked(Forbidden, code="fraud_blocked"):
    """The payment was refused by fraud screening."""
