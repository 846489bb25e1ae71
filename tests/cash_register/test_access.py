"""Only known tills record sales, each for its own store; keys and receipt numbers are the
till's own; bodies are JSON; a till past its rate is told to wait."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from admin.keys import issue, revoke
from cash_register.settings import cash_register_settings
from tests.conftest import app_client
from tests.keys import ChainKeys
from tests.rows import one

SALE = {"supermarket_id": "SMKT001", "items": ["milk"]}


async def stored(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT count(*) FROM purchases"))


@pytest.mark.parametrize(
    ("authorization", "invalid"),
    [(None, False), ("Basic dXNlcjpwdw==", False), ("Bearer till_not-a-real-key", True)],
)
async def test_no_key_or_an_unknown_key_is_a_401_and_stores_nothing(
    bare: httpx.AsyncClient, catalog: asyncpg.Connection, authorization: str | None, invalid: bool
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for path, body in (("/purchase", SALE), ("/purchases", {"purchases": []})):
        response = await bare.post(path, json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert ('error="invalid_token"' in response.headers["www-authenticate"]) == invalid
        assert response.headers["content-type"] == "application/problem+json"
    assert await stored(catalog) == 0


async def test_health_and_service_info_need_no_key(bare: httpx.AsyncClient) -> None:
    assert (await bare.get("/health")).status_code == 200
    assert (await bare.get("/")).status_code == 200
    assert (await bare.get("/openapi.json")).status_code == 200


async def test_a_till_records_for_its_own_store_only(
    bare: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    other_store = {**SALE, "supermarket_id": "SMKT002"}
    response = await bare.post("/purchase", json=other_store, headers=keys.till_headers("SMKT001"))
    assert response.status_code == 403
    assert "SMKT001" in response.json()["detail"]
    owner = await bare.post("/purchase", json=SALE, headers=keys.owner_headers())
    assert owner.status_code == 403
    upload = await bare.post("/purchases", json={"purchases": []}, headers=keys.owner_headers())
    assert upload.status_code == 403
    assert await stored(catalog) == 0


async def test_a_sale_records_its_till_and_when_it_arrived(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    before = datetime.now(UTC)
    receipt = (await cash_register.post("/purchase", json=SALE)).json()
    row = one(
        await catalog.fetchrow(
            "SELECT till_id, received_at FROM purchases WHERE id = $1", receipt["purchase_id"]
        )
    )
    assert row["till_id"] == "till-smkt001"
    assert before - timedelta(seconds=1) <= row["received_at"] <= datetime.now(UTC)


async def test_two_tills_may_use_the_same_keys(
    bare: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    """Two tills of one store both number their receipts from 1: two sales, two receipts."""
    other_till = await issue(catalog, "till", "till-smkt001-b", "SMKT001")
    await asyncio.sleep(0.5)  # the new key's notice reaches the service
    tills = [keys.tills["SMKT001"], other_till]
    receipts = []
    for key in tills:
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "receipt-0001"}
        response = await bare.post("/purchase", json=SALE, headers=headers)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
        receipts.append(response.json()["purchase_id"])
    again = await bare.post(
        "/purchase",
        json=SALE,
        headers={"Authorization": f"Bearer {tills[1]}", "Idempotency-Key": "receipt-0001"},
    )
    assert again.json()["purchase_id"] == receipts[1]
    assert len(set(receipts)) == 2
    offline = {
        "client_purchase_id": "offline-0001",
        "supermarket_id": "SMKT001",
        "items": ["bread"],
        "purchased_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }
    for key in tills:
        body = (
            await bare.post(
                "/purchases",
                json={"purchases": [offline]},
                headers={"Authorization": f"Bearer {key}"},
            )
        ).json()
        assert body["outcomes"][0]["status"] == "created"
    assert await stored(catalog) == 4


async def test_a_revoked_key_is_refused_within_two_seconds(
    bare: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    headers = keys.till_headers("SMKT001")
    assert (await bare.post("/purchase", json=SALE, headers=headers)).status_code == 201
    await revoke(catalog, "till", "till-smkt001")
    revoked_at = time.monotonic()
    while (await bare.post("/purchase", json=SALE, headers=headers)).status_code != 401:
        assert time.monotonic() - revoked_at < 2, "the revocation did not arrive within 2 s"
        await asyncio.sleep(0.05)


async def test_a_body_that_is_not_json_is_a_415(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    response = await cash_register.post(
        "/purchase",
        content=b'{"supermarket_id": "SMKT001", "items": ["milk"]}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert await stored(catalog) == 0


async def test_a_till_past_its_rate_waits_and_the_others_do_not(
    keys: ChainKeys, catalog: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILL_REQUESTS_PER_SECOND", "5")  # bursts to 10
    cash_register_settings.cache_clear()
    try:
        async for client in app_client("cash_register.main"):
            busy = keys.till_headers("SMKT001")
            answers = [await client.post("/purchase", json=SALE, headers=busy) for _ in range(14)]
            other = await client.post(
                "/purchase",
                json={**SALE, "supermarket_id": "SMKT002"},
                headers=keys.till_headers("SMKT002"),
            )
    finally:
        cash_register_settings.cache_clear()
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(201) >= 10
    assert 429 in statuses
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "till-smkt001" in refused.json()["detail"]
    assert other.status_code == 201
    assert await stored(catalog) == statuses.count(201) + 1


async def test_keys_last_used_are_written(
    keys: ChainKeys, catalog: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYS_LAST_USED_EVERY_SECONDS", "0.2")
    from db.settings import database_settings

    database_settings.cache_clear()
    try:
        async for client in app_client("cash_register.main"):
            await client.post("/purchase", json=SALE, headers=keys.till_headers("SMKT001"))
            for _ in range(50):
                used = await catalog.fetchval(
                    "SELECT last_used_at FROM tills WHERE till_id = $1", "till-smkt001"
                )
                if used is not None:
                    break
                await asyncio.sleep(0.05)
    finally:
        database_settings.cache_clear()
    assert used is not None
    assert await catalog.fetchval(
        "SELECT last_used_at IS NULL FROM tills WHERE till_id = 'till-smkt002'"
    )


async def test_a_refused_key_is_never_echoed(bare: httpx.AsyncClient) -> None:
    secret = f"till_{uuid.uuid4().hex}"
    response = await bare.post(
        "/purchase", json=SALE, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 401
    assert secret not in response.text
    assert secret not in str(response.headers)
