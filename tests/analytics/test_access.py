"""Only owners read the figures; a store manager's key sees that store only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from admin.keys import issue
from tests.conftest import app_client
from tests.keys import ChainKeys

DATA_VIEWS = ["/unique-customers", "/loyal-customers", "/top-products", "/sales/daily",
              "/supermarkets"]  # fmt: skip


@pytest.fixture
async def bare(keys: ChainKeys) -> AsyncIterator[httpx.AsyncClient]:
    async for client in app_client("analytics.main"):
        yield client


@pytest.mark.parametrize("path", DATA_VIEWS)
async def test_every_view_needs_an_owners_key(
    bare: httpx.AsyncClient, keys: ChainKeys, path: str
) -> None:
    anonymous = await bare.get(path)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    till = await bare.get(path, headers=keys.till_headers("SMKT001"))
    assert till.status_code == 403
    assert (await bare.get(path, headers=keys.owner_headers())).status_code == 200


async def test_health_needs_no_key(bare: httpx.AsyncClient) -> None:
    assert (await bare.get("/health")).status_code == 200


async def test_a_store_managers_key_sees_that_store_only(
    bare: httpx.AsyncClient, keys: ChainKeys, seeded: object
) -> None:
    manager_key = await issue(seeded, "owner", "manager-2", "SMKT002")  # type: ignore[arg-type]
    manager = {"Authorization": f"Bearer {manager_key}"}
    owner = keys.owner_headers()
    await bare.get("/health")
    for _ in range(100):  # the new key's notice reaches the service
        if (await bare.get("/supermarkets", headers=manager)).status_code == 200:
            break
        await asyncio.sleep(0.05)
    other = await bare.get("/top-products", params={"supermarket_id": "SMKT001"}, headers=manager)
    assert other.status_code == 403
    assert "SMKT002" in other.json()["detail"]
    for path in ["/unique-customers", "/loyal-customers", "/top-products", "/sales/daily"]:
        own_store = {"supermarket_id": "SMKT002"}
        if path == "/sales/daily":
            own_store |= {"from": "2025-05-01", "to": "2025-06-30"}
        chain_wide = {k: v for k, v in own_store.items() if k != "supermarket_id"}
        as_manager = (await bare.get(path, params=chain_wide, headers=manager)).json()
        as_owner = (await bare.get(path, params=own_store, headers=owner)).json()
        assert as_manager == as_owner, path
    stores = (await bare.get("/supermarkets", headers=manager)).json()["supermarkets"]
    assert [store["supermarket_id"] for store in stores] == ["SMKT002"]
