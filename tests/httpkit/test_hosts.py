"""A forged Host header reaches no link and no redirect: unknown hosts are refused, the links
of `GET /` are relative (or from PUBLIC_URL), and no trailing-slash redirect is made."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from httpkit.hosts import host_name, trusted
from httpkit.settings import http_settings
from tests.conftest import app_client
from tests.keys import ChainKeys

EVIL = {"Host": "evil.example"}


async def test_an_unknown_host_is_refused_on_every_route(
    cash_register: httpx.AsyncClient, analytics: httpx.AsyncClient
) -> None:
    for client, path in ((cash_register, "/"), (cash_register, "/purchase/"), (analytics, "/")):
        response = await client.get(path, headers={**EVIL, "X-Request-ID": "forged-host"})
        assert response.status_code == 400
        assert response.json()["type"] == "/problems/untrusted-host"
        assert response.json()["request_id"] == "forged-host"
        assert "evil.example" not in response.text


async def test_links_are_relative_and_no_redirect_is_built_from_the_request(
    analytics: httpx.AsyncClient, cash_register: httpx.AsyncClient
) -> None:
    links = (await analytics.get("/")).json()["links"]
    assert links["health"] == "/health"
    assert all(link.startswith("/") for link in links.values())
    slashed = await cash_register.post("/purchase/", json={"items": ["milk"]})
    assert slashed.status_code in (401, 404)
    assert "location" not in slashed.headers


@pytest.fixture
def public_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PUBLIC_URL", "https://owners.example-chain.com/")
    http_settings.cache_clear()
    yield "https://owners.example-chain.com"
    http_settings.cache_clear()


async def test_links_are_absolute_from_public_url_when_set(
    keys: ChainKeys, public_url: str
) -> None:
    async for client in app_client("analytics.main"):
        links = (await client.get("/")).json()["links"]
    assert links["health"] == f"{public_url}/health"


@pytest.mark.parametrize(
    ("header", "patterns", "answer"),
    [
        ("localhost:8000", ["localhost"], True),
        ("[::1]:8001", ["::1"], True),
        ("::1", ["::1"], True),
        ("tills.shop.example", ["*.shop.example"], True),
        ("shop.example", ["*.shop.example"], False),
        ("evilshop.example", ["*.shop.example"], False),
        ("anything", ["*"], True),
        ("", ["localhost"], False),
        ("LOCALHOST", ["localhost"], True),
    ],
)
def test_host_patterns(header: str, patterns: list[str], answer: bool) -> None:
    assert trusted(host_name(header), patterns) is answer
