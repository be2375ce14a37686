"""The pages' edge: a strict Content-Security-Policy and security headers on every answer, and
the CSRF defences (same-origin form posts, a per-session token on console forms)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from paycore.kit.asgi import HttpMiddleware
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paycore_web.settings import CheckoutMode, Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"


def content_security_policy(settings: Settings) -> str:
    """No inline script or style anywhere; scripts and styles from us only (and Cashfree's SDK
    in cashfree_js mode); forms may go to us and the checkout origins only."""
    checkout = " ".join(settings.checkout_origin_list)
    script = "'self'"
    connect = "'self'"
    frame = "'none'"
    if settings.checkout_mode == CheckoutMode.CASHFREE_JS:
        script += " " + origin_of(settings.cashfree_js_url)
        connect += " " + checkout
        frame = checkout or "'none'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {script}",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            f"frame-src {frame}",
            f"form-action 'self' {checkout}".strip(),
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SecurityHeadersMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        super().__init__(app)
        self.headers = {
            "content-security-policy": content_security_policy(settings),
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            # Pay links are in our URLs: never send them to another site. (Not no-referrer:
            # then Chrome sends `Origin: null` on our own form posts, which the CSRF check
            # refuses.)
            "referrer-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
            "cross-origin-opener-policy": "same-origin",
        }
        if settings.secure_cookies:
            self.headers["strict-transport-security"] = "max-age=63072000; includeSubDomains"

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                # Pages carry pay links and account data: never cached. Static files may be.
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SameOriginPostMiddleware(HttpMiddleware):
    """Refuses a state-changing request another site's page sent: its Origin (or, when a
    browser sends none, its Referer) must be ours. Browsers send Origin on every form post."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        super().__init__(app)
        self.origin = origin_of(public_url)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None and headers.get("referer"):
            origin = origin_of(headers["referer"])
        if origin != self.origin:
            response = PlainTextResponse("cross-site request refused", status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); every console form carries it."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_valid(request: Request, sent: object) -> bool:
    expected = request.session.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )
