"""Disputes and chargebacks: money the customer's bank may take back from a payment."""
