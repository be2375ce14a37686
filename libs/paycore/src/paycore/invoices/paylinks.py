"""Pay links: the customer's unguessable, expiring, signed way to one invoice (no login).

A token names the invoice (its issuer and number) and an expiry, signed with HMAC-SHA256 under
`PAY_LINK_SECRET` (itsdangerous, with its own salt so no other signature of ours verifies as a
pay link). The token is signed, not encrypted: it shows the invoice number and the issuer's user
id, which the invoice page shows anyway. It grants only what the pay pages do: read the invoice,
pay it, check its payment. It is short (about 90 characters), so a return URL carrying it stays
within Cashfree's 250-character `return_url`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from itsdangerous import BadSignature, URLSafeSerializer

from paycore.invoices.errors import PayLinkExpired, PayLinkInvalid
from paycore.kit.settings import PayLinkSettings

SALT: Final = "paycore.pay-link.v1"
# A link's lifetime: long enough to pay an invoice after its email, short enough to expire.
DEFAULT_TTL_SECONDS: Final = 30 * 86_400


@dataclass(frozen=True)
class PayLink:
    user_id: str  # the merchant user who issued the invoice
    invoice_number: str
    expires_at: datetime


class PayLinks:
    """Issues and reads pay-link tokens. `secret` at least 32 characters."""

    def __init__(self, secret: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        if len(secret) < 32:
            raise ValueError("the pay-link secret must be at least 32 characters")
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: str, invoice_number: str, *, now: float | None = None) -> str:
        """A token valid for `ttl_seconds` from `now` (Unix seconds; default the clock)."""
        expires = int((time.time() if now is None else now) + self.ttl_seconds)
        return self._serializer.dumps([user_id, invoice_number, expires])

    def expiry(self, now: float | None = None) -> datetime:
        """When a link issued at `now` expires (UTC)."""
        issued = time.time() if now is None else now
        return datetime.fromtimestamp(int(issued + self.ttl_seconds), UTC)

    def read(self, token: str, *, now: float | None = None) -> PayLink:
        """The link a token names. Raises PayLinkInvalid (not ours, altered, malformed) or
        PayLinkExpired."""
        if not 0 < len(token) <= 400:
            raise PayLinkInvalid()
        try:
            claims = self._serializer.loads(token)
        except BadSignature:
            raise PayLinkInvalid() from None
        if (
            not isinstance(claims, list)
            or len(claims) != 3
            or not isinstance(claims[0], str)
            or not isinstance(claims[1], str)
            or not isinstance(claims[2], int)
        ):
            raise PayLinkInvalid()
        user_id, invoice_number, expires = claims
        if expires <= (time.time() if now is None else now):
            raise PayLinkExpired()
        return PayLink(user_id, invoice_number, datetime.fromtimestamp(expires, UTC))


def pay_links_from(settings: PayLinkSettings) -> PayLinks | None:
    """The service's pay links, or None when `PAY_LINK_SECRET` is not set."""
    if settings.pay_link_secret is None:
        return None
    return PayLinks(
        settings.pay_link_secret.get_secret_value(), ttl_seconds=settings.pay_link_ttl_seconds
    )


def fill_link(template: str, **values: str) -> str | None:
    """A link template (`INVOICE_PAY_URL`, `PAYMENT_RETRY_URL`) with its `{placeholders}`
    filled; None when the template is empty or needs a value that is missing (a pay token
    for a payment without an invoice, or with pay links off)."""
    if not template:
        return None
    try:
        filled = template.format(**values)
    except (KeyError, IndexError):
        return None
    return filled
