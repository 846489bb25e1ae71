"""The cash register app: `uvicorn cash_register.main:app --port 8000`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from cash_register.api import SCREEN_FILES, router
from cash_register.closing_api import router as closing_router
from cash_register.lanes import till_lanes
from cash_register.lifetime import CashRegister, readiness
from cash_register.loyalty import LoyaltyCards
from cash_register.refund_api import router as refund_router
from cash_register.settings import cash_register_settings
from db.pool import create_pool
from db.sales_fold import FOLD_SALES_LATER
from db.settings import service_database_settings
from httpkit.app import running, service_app
from httpkit.observing import watch_durability, watch_the_database
from httpkit.screens import Screen
from telemetry.metrics import instruments


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One pool and the parts built on it for the process's life; on shutdown the batcher
    commits what it has taken before the catalog, the chores and the pool go."""
    settings = service_database_settings("cash_register")
    cards = LoyaltyCards.from_settings()
    pool = await create_pool(settings, session=FOLD_SALES_LATER)
    try:
        held = CashRegister.build(settings, cash_register_settings(), pool, cards)
        watch_the_database(instruments(), held.catalog, held.keys)
        watch_durability(instruments(), held.durability)
        async with running(*held.parts()):
            app.state.cash_register = held
            yield
    finally:
        await pool.close()


def till_routes() -> APIRouter:
    """The sales', the refunds' and the till's day's routes, as one router."""
    routes = APIRouter()
    routes.include_router(router)
    routes.include_router(refund_router)
    routes.include_router(closing_router)
    return routes


def create_app() -> FastAPI:
    return service_app(
        service="cash-register",
        title="Cash register",
        description="Records supermarket purchases from the tills.",
        lifespan=lifespan,
        router=till_routes(),
        keys_of=lambda scope: scope["app"].state.cash_register.keys,
        sessions_of=lambda scope: scope["app"].state.cash_register.sessions,
        readiness=readiness,
        screen=Screen(kind="till", name="till screen", cookie="till_session", files=SCREEN_FILES),
        lanes=till_lanes(),
        requests_per_second={"till": cash_register_settings().till_requests_per_second},
    )


app = create_app()
