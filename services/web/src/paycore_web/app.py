"""The web pages' app: customer pages under /pay, the merchant console under /console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from paycore.kit.http import create_app
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from paycore_web import console, customer
from paycore_web.api import ForwardClientMiddleware, PaymentsApi
from paycore_web.pages import STATIC, Pages, templates
from paycore_web.security import SameOriginPostMiddleware, SecurityHeadersMiddleware
from paycore_web.settings import Settings

SESSION_COOKIE = "paycore_console"


async def home(request: Request) -> Response:
    return RedirectResponse("/console/", 303)


def build_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """`transport` lets tests put the payments-api app in-process."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=settings.payments_api_url,
            timeout=settings.api_timeout_seconds,
            transport=transport,
        ) as http:
            app.state.pages = Pages(settings, PaymentsApi(http), templates())
            app.state.http = http
            yield

    async def api_reachable() -> None:
        response = await app.state.http.get("/health", timeout=2)
        response.raise_for_status()

    routes = [
        Route("/", home, methods=["GET"]),
        *customer.routes(),
        *console.routes(),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = create_app(
        settings,
        routes,
        lifespan=lifespan,
        checks={"api": api_reachable},
        middleware=[
            Middleware(ForwardClientMiddleware),
            Middleware(SecurityHeadersMiddleware, settings=settings),
            Middleware(SameOriginPostMiddleware, public_url=settings.web_public_url),
            Middleware(
                SessionMiddleware,
                secret_key=settings.web_session_secret.get_secret_value(),
                session_cookie=SESSION_COOKIE,
                max_age=settings.web_session_max_age_seconds,
                same_site="strict",
                https_only=settings.secure_cookies,
            ),
        ],
    )
    return app
