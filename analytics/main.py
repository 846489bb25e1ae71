"""The analytics app: `uvicorn analytics.main:app --port 8001`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from analytics.api import SCREEN_FILES, router
from analytics.lifetime import Analytics, readiness
from db.pool import create_pool
from db.settings import service_database_settings
from httpkit.app import running, service_app
from httpkit.observing import watch_the_database
from httpkit.screens import Screen
from telemetry.metrics import instruments


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One pool, and the list of stores (to check filters), for the life of the process."""
    settings = service_database_settings("analytics")
    pool = await create_pool(settings)
    try:
        held = Analytics.build(settings, pool)
        watch_the_database(instruments(), held.catalog, held.keys)
        async with running(*held.parts()):
            app.state.analytics = held
            yield
    finally:
        await pool.close()


def create_app() -> FastAPI:
    return service_app(
        service="analytics",
        title="Supermarket analytics",
        description="What the sales say: customers, loyalty and best sellers.",
        lifespan=lifespan,
        router=router,
        keys_of=lambda scope: scope["app"].state.analytics.keys,
        readiness=readiness,
        screen=Screen(kind="owner", name="dashboard", cookie="owner_session", files=SCREEN_FILES),
    )


app = create_app()
