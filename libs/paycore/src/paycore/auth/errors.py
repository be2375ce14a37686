"""Who may call: bearer tokens, API keys and scopes (status, stable code; the docstring is the
message)."""

from paycore.kit.errors import Forbidden, Unauthorized


class InvalidToken(Unauthorized, code="invalid_token"):
    """The bearer token is missing, malformed or not signed by us."""


class TokenExpired(Unauthorized, code="token_expired"):
    """The bearer token has expired."""


class ApiKeyRevoked(InvalidToken, code="api_key_revoked"):
    """This API key has been revoked."""


class InsufficientScope(Forbidden, code="insufficient_scope"):
    """The token does not grant the scope this request needs."""
