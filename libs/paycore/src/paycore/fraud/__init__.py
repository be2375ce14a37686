"""Fraud foundation: velocity and repeated-failure checks, decisions, stored signals."""
