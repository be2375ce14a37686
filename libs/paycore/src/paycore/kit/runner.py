"""Runs a service's ASGI app under uvicorn, stopping gracefully on SIGTERM with exit status 0."""

from __future__ import annotations

from types import FrameType

import uvicorn
from loguru import logger
from starlette.types import ASGIApp

from paycore.kit.logging import configure_logging
from paycore.kit.settings import BaseServiceSettings


class GracefulServer(uvicorn.Server):
    """uvicorn re-raises a caught SIGTERM after its clean shutdown, which makes the process
    exit 143; a requested stop that completed cleanly is a normal exit here."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def run(app: ASGIApp, settings: BaseServiceSettings) -> None:
    configure_logging(settings.service_name, settings.app_env.value, settings.log_level)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        # The client address is resolved by paycore.kit.client_ip from TRUSTED_PROXIES; uvicorn
        # must not rewrite the peer from X-Forwarded-For on its own.
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    logger.info("starting", host=settings.host, port=settings.port)
    server = GracefulServer(config)
    server.run()
    logger.info("stopped")
