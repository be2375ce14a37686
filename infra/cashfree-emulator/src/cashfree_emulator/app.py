"""The Starlette application: `/pg` API, hosted checkout, `/_emulator` control API."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from cashfree_emulator.emulator import Emulator
from cashfree_emulator.errors import CashfreeError
from cashfree_emulator.pipeline import QuietDisconnects
from cashfree_emulator.routes import api, checkout, control
from cashfree_emulator.settings import EmulatorSettings
from cashfree_emulator.wire import dumps


async def _not_found(request: Request, exc: Exception) -> Response:
    error = CashfreeError(404, "request_failed", "bad URL, please check API documentation")
    return Response(dumps(error.body()), 404, media_type="application/json")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    error = CashfreeError(
        405, "request_failed", "method not allowed, please check API documentation"
    )
    error.error_type = "invalid_request_error"
    return Response(dumps(error.body()), 405, media_type="application/json")


def _quiet_emulated_disconnects() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietDisconnects) for f in logger.filters):
        logger.addFilter(QuietDisconnects())


def create_app(settings: EmulatorSettings | None = None) -> Starlette:
    _quiet_emulated_disconnects()
    emulator = Emulator(settings or EmulatorSettings())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emulator.close()

    app = Starlette(
        routes=[Mount("/pg", routes=api.ROUTES), *checkout.ROUTES, *control.ROUTES],
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    app.state.emulator = emulator
    return app
