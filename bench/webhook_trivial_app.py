"""The baseline of the ingress benchmark: a Starlette endpoint that reads the body and answers
200 JSON, served exactly like the services (uvicorn, uvloop, httptools, no access log)."""

import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def receive(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"status": "accepted"})


app = Starlette(routes=[Route("/api/v1/webhooks/cashfree", receive, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8101")),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
