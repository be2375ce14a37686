"""Pure ASGI middleware of the public edge: security headers and the request body limit."""

from __future__ import annotations

from paycore.kit.asgi import HttpMiddleware
from paycore.kit.errors import PayloadTooLarge
from paycore.kit.http import render_error
from paycore.kit.parsing import ascii_int
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
# As ASGI carries them, so a response gets them in one pass over its headers.
_RAW_SECURITY_HEADERS = [
    (name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()
]


class SecurityHeadersMiddleware(HttpMiddleware):
    """Adds each of `SECURITY_HEADERS` the response does not set itself."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name for name, _ in headers}
                headers += [header for header in _RAW_SECURITY_HEADERS if header[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware(HttpMiddleware):
    """Refuses a declared Content-Length over the limit at once, and stops reading a body that
    grows past it (chunked uploads declare nothing)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = Headers(scope=scope).get("content-length")
        size = ascii_int(declared)
        if declared is not None and (size is None or size > self.max_bytes):
            response = render_error(PayloadTooLarge(limit_bytes=self.max_bytes))
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the handler's body read: rendered by the AppError handler.
                    raise PayloadTooLarge(limit_bytes=self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
