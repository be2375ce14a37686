"""Prefixed, sortable, opaque ids (`pay_…`, `ord_…`, `rfd_…`, `evt_…`)."""

from __future__ import annotations

import base64
import secrets
import time

# Crockford base32 (sortable as text, no ambiguous letters), as a translation of the standard
# base32 alphabet, so the C encoder does the work (a Python digit loop took 9 µs per id).
_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",  # pragma: allowlist secret
    b"0123456789ABCDEFGHJKMNPQRSTVWXYZ",  # pragma: allowlist secret
)
_MILLIS_MASK = (1 << 50) - 1  # 10 characters hold the low 50 bits


def new_id(prefix: str) -> str:
    """`<prefix>_` + 10 characters of milliseconds + 16 random characters (ULID layout)."""
    millis = time.time_ns() // 1_000_000 & _MILLIS_MASK
    # 130 bits, shifted to the top of 20 bytes: base32 turns them into the first 26 of 32 digits.
    bits = (millis << 80 | secrets.randbits(80)) << 30
    digits = base64.b32encode(bits.to_bytes(20, "big")).translate(_CROCKFORD)
    return f"{prefix}_{digits[:26].decode()}"
