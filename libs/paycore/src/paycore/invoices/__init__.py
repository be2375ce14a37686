"""Invoices: the merchants' existing flow; an invoice's status follows its payment."""
