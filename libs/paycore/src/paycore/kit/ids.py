"""Prefixed, sortable, opaque ids (`pay_…`, `ord_…`, `rfd_…`, `evt_…`)."""

from __future__ import annotations

import secrets
import time

# Crockford base32: sortable as text, no ambiguous letters.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """`<prefix>_` + 10 characters of milliseconds + 16 random characters (ULID layout)."""
    return f"{prefix}_{_base32(time.time_ns() // 1_000_000, 10)}{_base32(secrets.randbits(80), 16)}"
