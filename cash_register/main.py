"""The cash register app: `uvicorn cash_register.main:app --port 8000`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cash_register.api import router
from cash_register.batcher import PurchaseBatcher
from cash_register.checkout_lane import CheckoutLane
from cash_register.key_expiry import key_expiry
from cash_register.settings import cash_register_settings
from db.body_limit import BodyLimit
from db.catalog import CatalogWatcher
from db.partitions import month_keeper
from db.pool import create_pool
from db.problems import install_problem_handlers
from db.settings import database_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One pool, one catalog watcher, one batcher and the month keeper, for the process's life.

    On shutdown the batcher commits what it has taken before the pool closes.
    """
    settings = database_settings()
    own = cash_register_settings()
    limits = own.batch_limits()
    pool = await create_pool(settings)
    catalog = CatalogWatcher(settings, pool)
    batcher = PurchaseBatcher(pool, limits)
    months = month_keeper(pool)
    keys = key_expiry(pool, own.idempotency_key_ttl_hours * 3600)
    try:
        await catalog.start()
        months.start()
        keys.start()
        app.state.pool = pool
        app.state.catalog = catalog
        app.state.batcher = batcher
        yield
    finally:
        await batcher.close()
        await months.stop()
        await keys.stop()
        await catalog.stop()
        await pool.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Cash register",
        description="Records supermarket purchases from the tills.",
        version="1.0.0",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(router)
    app.add_middleware(CheckoutLane)
    app.add_middleware(BodyLimit)  # added last: outermost, so the lane's bodies count too
    return app


app = create_app()
