"""The analytics app: `uvicorn analytics.main:app --port 8001`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from analytics.api import router
from db.body_limit import BodyLimit
from db.catalog import CatalogWatcher
from db.pool import create_pool
from db.problems import install_problem_handlers
from db.settings import database_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One pool, and the list of stores (to check filters), for the life of the process."""
    settings = database_settings()
    pool = await create_pool(settings)
    catalog = CatalogWatcher(settings, pool)
    try:
        await catalog.start()
        app.state.pool = pool
        app.state.catalog = catalog
        yield
    finally:
        await catalog.stop()
        await pool.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Supermarket analytics",
        description="What the sales say: customers, loyalty and best sellers.",
        version="1.0.0",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(router)
    app.add_middleware(BodyLimit)
    return app


app = create_app()
