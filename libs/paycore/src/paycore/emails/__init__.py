"""Emails: one per event at most in the normal path, never lost (`email_logs` is the record)."""
