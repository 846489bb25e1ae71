"""GET /catalog with its ETag, the screen's pages and cookie sessions (with their CSRF
token), and error types that name their kind."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
import httpx

from tests.conftest import SeedFacts
from tests.keys import ChainKeys

SALE = {"supermarket_id": "SMKT001", "items": ["milk"]}


async def test_the_catalog_has_the_seed_prices_and_a_tag_that_changes_with_them(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection, seed_facts: SeedFacts
) -> None:
    first = await cash_register.get("/catalog")
    assert first.status_code == 200
    prices = {p["name"]: Decimal(p["unit_price"]) for p in first.json()["products"]}
    assert prices == seed_facts.prices
    assert first.json()["supermarkets"] == sorted(seed_facts.supermarkets)
    tag = first.headers["etag"]
    again = await cash_register.get("/catalog", headers={"If-None-Match": tag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)

    await catalog.execute("UPDATE products SET unit_price = unit_price + 1 WHERE name = 'milk'")
    for _ in range(50):  # the change reaches the service through NOTIFY
        changed = await cash_register.get("/catalog", headers={"If-None-Match": tag})
        if changed.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    milk = next(p for p in changed.json()["products"] if p["name"] == "milk")
    assert Decimal(milk["unit_price"]) == seed_facts.prices["milk"] + 1


async def test_the_catalog_needs_a_key(bare: httpx.AsyncClient) -> None:
    assert (await bare.get("/catalog")).status_code == 401


async def test_a_browser_gets_the_till_screen_and_a_script_its_json(
    bare: httpx.AsyncClient,
) -> None:
    page = await bare.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'id="sign-in"' in page.text
    assert (await bare.get("/till")).text == page.text
    info = await bare.get("/", headers={"Accept": "application/json"})
    assert info.json()["service"] == "cash-register"


async def test_a_screen_session_needs_its_csrf_token_to_record_a_sale(
    bare: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    signed = await bare.post("/sign-in", json={"key": keys.tills["SMKT001"]})
    assert signed.status_code == 200
    assert signed.json()["supermarket_id"] == "SMKT001"
    cookies = signed.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("till_session="))
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    assert keys.tills["SMKT001"] not in signed.text
    assert (await bare.get("/session")).json()["name"] == "till-smkt001"

    forged = await bare.post("/purchase", json=SALE)
    assert forged.status_code == 403
    assert forged.json()["type"] == "/problems/csrf-token-missing"
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 0
    token = bare.cookies["till_session_csrf"]
    sold = await bare.post("/purchase", json=SALE, headers={"X-CSRF-Token": token})
    assert sold.status_code == 201
    assert await catalog.fetchval("SELECT till_id FROM purchases") == "till-smkt001"

    assert (await bare.post("/sign-out", json={})).status_code == 204
    assert (await bare.get("/session")).status_code == 401


async def test_only_a_live_till_key_signs_in_at_the_till(
    bare: httpx.AsyncClient, keys: ChainKeys
) -> None:
    owner = await bare.post("/sign-in", json={"key": keys.owner})
    assert (owner.status_code, owner.json()["type"]) == (403, "/problems/wrong-screen")
    unknown = await bare.post("/sign-in", json={"key": "till_not-a-key"})
    assert (unknown.status_code, unknown.json()["type"]) == (401, "/problems/unknown-key")
    assert "set-cookie" not in unknown.headers


async def test_each_error_names_its_kind_and_the_kind_is_described(
    cash_register: httpx.AsyncClient,
) -> None:
    refused = await cash_register.post("/purchase", json={**SALE, "items": ["caviar"]})
    problem = refused.json()
    assert (refused.status_code, problem["type"]) == (422, "/problems/unknown-product")
    assert refused.headers["content-type"] == "application/problem+json"
    described = await cash_register.get(problem["type"])
    assert described.status_code == 200
    assert described.json()["status"] == 422
    missing = await cash_register.get("/problems/no-such-thing")
    assert (missing.status_code, missing.json()["type"]) == (404, "/problems/not-found")
