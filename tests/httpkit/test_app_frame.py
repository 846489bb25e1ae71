"""The frame both services share: what wraps the app wraps every route, the checkout lane
included; each 503 says its own cause; the HTTP knobs are validated settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from analytics.main import create_app as create_analytics
from cash_register.api import checkout
from cash_register.main import create_app as create_cash_register
from db.settings import database_tuning
from httpkit.settings import HttpSettings
from tests.keys import ChainKeys

SALE = {"supermarket_id": "SMKT001", "items": ["milk"]}


class Marker:
    """A cross-cutting middleware added the ordinary way; records what it saw, and which
    endpoint the router chose inside it (the router writes it into the shared scope)."""

    seen: ClassVar[list[tuple[str, str]]] = []
    endpoints: ClassVar[list[object]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            Marker.seen.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            Marker.endpoints.append(scope.get("endpoint"))


async def client_of(
    app: FastAPI, headers: dict[str, str]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
            yield app, client


async def test_a_middleware_wraps_the_checkout_lane_as_every_route(keys: ChainKeys) -> None:
    app = create_cash_register()
    app.add_middleware(Marker)
    Marker.seen.clear()
    Marker.endpoints.clear()
    async for _, client in client_of(app, keys.till_headers("SMKT001")):
        assert (await client.post("/purchase", json=SALE)).status_code == 201
        assert (await client.get("/health")).status_code == 200
        assert (await client.post("/purchase", json={"items": []})).status_code == 422
    assert Marker.seen == [("POST", "/purchase"), ("GET", "/health"), ("POST", "/purchase")]
    # Both sales, the accepted and the refused, were answered by the fast path's handler,
    # not by the documented FastAPI route (whose endpoint is post_purchase).
    assert Marker.endpoints[0] is checkout
    assert Marker.endpoints[2] is checkout
    assert Marker.endpoints[1] is not checkout


async def test_another_method_on_the_lanes_path_is_a_405(keys: ChainKeys) -> None:
    async for _, client in client_of(create_cash_register(), keys.till_headers("SMKT001")):
        response = await client.get("/purchase")
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"


def test_the_checkout_lane_is_the_first_route_and_the_documented_one_stays() -> None:
    app = create_cash_register()
    first = app.router.routes[0]
    assert isinstance(first, Route)
    assert first.endpoint is checkout
    assert first.methods == {"POST"}
    assert not first.include_in_schema
    documented = app.openapi()["paths"]["/purchase"]["post"]
    assert documented["operationId"] == "record_purchase"


def assert_unavailable(response: httpx.Response, cause: str, words: str) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["cause"] == cause
    assert words in response.json()["detail"]


async def test_a_stopping_cash_register_says_it_is_shutting_down(keys: ChainKeys) -> None:
    async for app, client in client_of(create_cash_register(), keys.till_headers("SMKT001")):
        await app.state.cash_register.batcher.stop()
        response = await client.post("/purchase", json=SALE)
        assert_unavailable(response, "shutting_down", "shutting down")
        assert "database" not in response.json()["detail"]


@pytest.fixture
def small_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DB_POOL_MIN_SIZE", "1")
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "1")
    monkeypatch.setenv("DB_POOL_ACQUIRE_TIMEOUT_SECONDS", "0.3")
    monkeypatch.setenv("DB_COMMAND_TIMEOUT_SECONDS", "0.5")
    database_tuning.cache_clear()
    yield
    database_tuning.cache_clear()


async def test_a_busy_pool_and_a_slow_statement_each_say_so(
    seeded: asyncpg.Connection, keys: ChainKeys, small_pool: None
) -> None:
    async for app, client in client_of(create_analytics(), keys.owner_headers()):
        async with app.state.analytics.primary.acquire():  # the one connection, taken
            busy = await client.get("/unique-customers")
        assert_unavailable(busy, "pool_exhausted", "busy")

        async with seeded.transaction():
            await seeded.execute("LOCK TABLE customer_purchase_counts IN ACCESS EXCLUSIVE MODE")
            slow = await asyncio.wait_for(client.get("/unique-customers"), 5)
        assert_unavailable(slow, "statement_timeout", "did not answer within 0.5 s")
        assert (await client.get("/unique-customers")).status_code == 200


@pytest.mark.parametrize(("name", "value"), [("MAX_BODY_BYTES", "lots"), ("MAX_BODY_BYTES", "1")])
def test_a_bad_http_setting_stops_the_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        HttpSettings()
