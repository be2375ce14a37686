"""A trivial Starlette app: the floor of what uvicorn + Starlette cost on this machine.

    uv run uvicorn bench.trivial_app:app --port 8199 --loop uvloop --http httptools --no-access-log

`GET /ping` answers "ok"; `POST /echo` reads a JSON body and answers a small JSON object, like
an API endpoint that does no I/O.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


async def ping(request: Request) -> Response:
    return PlainTextResponse("ok")


async def echo(request: Request) -> Response:
    body = json.loads(await request.body() or b"{}")
    return JSONResponse({"data": {"received": len(body)}}, status_code=201)


app = Starlette(routes=[Route("/ping", ping), Route("/echo", echo, methods=["POST"])])
