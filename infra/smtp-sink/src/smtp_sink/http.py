"""The inbox over HTTP, JSON only:

GET    /health                   {"status": "ok", "messages": n}
GET    /messages?to=&subject=    summaries, oldest first
GET    /messages/{id}            one message with headers, text and html
GET    /messages/{id}/raw        the message as received (message/rfc822)
DELETE /messages                 empty the inbox
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smtp_sink.inbox import Inbox


def create_http_app(inbox: Inbox) -> Starlette:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "messages": len(inbox.messages())})

    async def list_messages(request: Request) -> Response:
        found = inbox.messages(
            to=request.query_params.get("to"), subject=request.query_params.get("subject")
        )
        return JSONResponse([message.summary() for message in found])

    async def clear(request: Request) -> Response:
        inbox.clear()
        return Response(status_code=204)

    async def get_message(request: Request) -> Response:
        message = inbox.get(request.path_params["id"])
        if message is None:
            return JSONResponse({"error": "no such message"}, status_code=404)
        return JSONResponse(message.to_json())

    async def get_raw(request: Request) -> Response:
        message = inbox.get(request.path_params["id"])
        if message is None:
            return JSONResponse({"error": "no such message"}, status_code=404)
        return Response(message.raw, media_type="message/rfc822")

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/messages", list_messages, methods=["GET"]),
            Route("/messages", clear, methods=["DELETE"]),
            Route("/messages/{id:int}", get_message, methods=["GET"]),
            Route("/messages/{id:int}/raw", get_raw, methods=["GET"]),
        ]
    )
