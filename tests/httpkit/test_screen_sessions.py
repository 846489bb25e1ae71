"""The screens' sessions are the server's: the cookie holds a random session id, never the
key; a session ends at sign-out, at its expiry and with its key; its CSRF token is its own;
over HTTPS (behind a trusted proxy too) its cookies are `Secure` and named `__Host-…`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from admin.keys import revoke
from cash_register.main import create_app
from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys
from tests.servers import start, stop, wait_healthy

SALE = {"supermarket_id": "SMKT001", "items": ["milk"]}


async def browser(base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(create_app()) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@pytest.fixture
async def till_browser(keys: ChainKeys) -> AsyncIterator[httpx.AsyncClient]:
    async for client in browser():
        signed = await client.post("/sign-in", json={"key": keys.tills["SMKT001"]})
        assert signed.status_code == 200
        yield client


def signed_with(client: httpx.AsyncClient, session: str) -> dict[str, str]:
    return {"Cookie": f"till_session={session}"}


async def test_the_cookie_is_a_session_id_that_sign_out_ends(
    till_browser: httpx.AsyncClient, keys: ChainKeys
) -> None:
    session = till_browser.cookies["till_session"]
    assert session != keys.tills["SMKT001"]
    assert (await till_browser.get("/session")).status_code == 200
    assert (await till_browser.post("/sign-out", json={})).status_code == 204
    replayed = await till_browser.get("/session", headers=signed_with(till_browser, session))
    assert replayed.status_code == 401


async def test_a_key_planted_in_the_cookie_signs_nothing_in(
    bare: httpx.AsyncClient, keys: ChainKeys
) -> None:
    planted = {"Cookie": f"till_session={keys.tills['SMKT001']}; till_session_csrf=x"}
    assert (await bare.get("/session", headers=planted)).status_code == 401
    posted = await bare.post("/purchase", json=SALE, headers={**planted, "X-CSRF-Token": "x"})
    assert posted.status_code == 401


async def test_an_expired_session_is_refused(
    till_browser: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    await catalog.execute("UPDATE screen_sessions SET expires_at = now() - interval '1 second'")
    assert (await till_browser.get("/session")).status_code == 401


async def test_revoking_the_key_ends_its_sessions(
    till_browser: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    await revoke(catalog, "till", "till-smkt001")
    deadline = time.monotonic() + 2
    while (await till_browser.get("/session")).status_code == 200:
        assert time.monotonic() < deadline, "the revoked key's session still signs in"
        await asyncio.sleep(0.05)


async def test_a_csrf_token_is_good_for_its_own_session_only(
    keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    async for first in browser():
        async for second in browser():
            for client in (first, second):
                await client.post("/sign-in", json={"key": keys.tills["SMKT001"]})
            theirs = second.cookies["till_session_csrf"]
            crossed = await first.post("/purchase", json=SALE, headers={"X-CSRF-Token": theirs})
            assert crossed.status_code == 403
            own = first.cookies["till_session_csrf"]
            sold = await first.post("/purchase", json=SALE, headers={"X-CSRF-Token": own})
            assert sold.status_code == 201
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 1


async def test_over_https_the_cookies_are_secure_and_host_bound(keys: ChainKeys) -> None:
    async for client in browser("https://localhost"):
        signed = await client.post("/sign-in", json={"key": keys.tills["SMKT001"]})
        cookies = signed.headers.get_list("set-cookie")
        for name in ("__Host-till_session=", "__Host-till_session_csrf="):
            made = next(c for c in cookies if c.startswith(name))
            assert "Secure" in made
            assert "Path=/" in made
            assert "Domain" not in made
        token = client.cookies["__Host-till_session_csrf"]
        sold = await client.post("/purchase", json=SALE, headers={"X-CSRF-Token": token})
        assert sold.status_code == 201


@pytest.mark.parametrize(("allowed", "secure"), [("127.0.0.1", True), ("10.9.9.9", False)])
def test_a_forwarded_https_counts_only_from_a_trusted_proxy(
    catalog: asyncpg.Connection,
    keys: ChainKeys,
    postgres: PostgresUnderTest,
    allowed: str,
    secure: bool,
) -> None:
    process, url = start(
        "cash_register", postgres.database_url, WEB_CONCURRENCY="1", FORWARDED_ALLOW_IPS=allowed
    )
    try:
        wait_healthy(process, url)
        signed = httpx.post(
            f"{url}/sign-in",
            json={"key": keys.tills["SMKT001"]},
            headers={"X-Forwarded-Proto": "https"},
        )
    finally:
        stop(process)
    assert signed.status_code == 200
    names = [c.split("=")[0] for c in signed.headers.get_list("set-cookie")]
    assert ("__Host-till_session" in names) is secure
    assert ("till_session" in names) is not secure
