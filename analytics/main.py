"""The analytics app: `uvicorn analytics.main:app --port 8001`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from analytics.api import router
from db.pool import create_pool
from db.problems import install_problem_handlers
from db.settings import database_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One pool for the life of the process."""
    pool = await create_pool(database_settings())
    try:
        app.state.pool = pool
        yield
    finally:
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
    return app


app = create_app()
