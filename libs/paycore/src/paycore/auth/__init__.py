"""Bearer tokens (JWT, HS256): who the caller is and what they may do."""

from paycore.auth.errors import InsufficientScope, InvalidToken, TokenExpired
from paycore.auth.tokens import Principal, Scope, decode_token, mint_token

__all__ = [
    "InsufficientScope",
    "InvalidToken",
    "Principal",
    "Scope",
    "TokenExpired",
    "decode_token",
    "mint_token",
]
