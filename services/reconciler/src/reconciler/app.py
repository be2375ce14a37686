from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from paycore.kit.http import create_app
from paycore.kit.service import Resources
from starlette.applications import Starlette

from reconciler.settings import Settings


def build_app(settings: Settings) -> Starlette:
    resources = Resources(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with resources.running():
            app.state.resources = resources
            yield

    return create_app(settings.service_name, [], lifespan=lifespan, checks=resources.checks())
