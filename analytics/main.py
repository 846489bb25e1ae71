"""The analytics app: `uvicorn analytics.main:app --port 8001`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI

from analytics.api import SCREEN_FILES, router
from analytics.closing_api import router as closing_router
from analytics.lifetime import Analytics, readiness
from analytics.settings import analytics_settings
from db.pool import create_pool
from db.roles import check_reader_limits
from db.settings import primary_database_settings, service_database_settings
from httpkit.app import running, service_app
from httpkit.observing import watch_the_database, watch_the_replica
from httpkit.screens import Screen
from telemetry.metrics import instruments


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The pools, and the list of stores (to check filters), for the life of the process.

    With ANALYTICS_PRIMARY_DATABASE_URL set, ANALYTICS_DATABASE_URL is a streaming replica:
    its pool opens no connection at start (a replica that is down must not stop the
    analytics, which read the primary meanwhile)."""
    own = service_database_settings("analytics")
    on_primary = primary_database_settings("analytics")
    async with AsyncExitStack() as stack:
        if on_primary is None:
            primary, replica = await create_pool(own, check=check_reader_limits), None
            stack.push_async_callback(primary.close)
        else:
            primary = await create_pool(on_primary, check=check_reader_limits)
            stack.push_async_callback(primary.close)
            replica = await create_pool(own, opened_at_start=0, check=check_reader_limits)
            stack.push_async_callback(replica.close)
        held = Analytics.build(on_primary or own, primary, replica)
        watch_the_database(instruments(), held.catalog, held.keys)
        watch_the_replica(instruments(), held.reads)
        async with running(*held.parts()):
            app.state.analytics = held
            yield


def owner_routes() -> APIRouter:
    """The views of the sales and those of the tills' days, as one router."""
    routes = APIRouter()
    routes.include_router(router)
    routes.include_router(closing_router)
    return routes


def create_app() -> FastAPI:
    return service_app(
        service="analytics",
        title="Supermarket analytics",
        description="What the sales say: customers, loyalty and best sellers.",
        lifespan=lifespan,
        router=owner_routes(),
        keys_of=lambda scope: scope["app"].state.analytics.keys,
        sessions_of=lambda scope: scope["app"].state.analytics.sessions,
        readiness=readiness,
        screen=Screen(kind="owner", name="dashboard", cookie="owner_session", files=SCREEN_FILES),
        requests_per_second={"owner": analytics_settings().owner_requests_per_second},
    )


app = create_app()
