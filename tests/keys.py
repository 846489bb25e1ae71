"""Access keys for tests: a till per seed store and a chain owner, and an httpx auth that
sends the key of the till whose store a sale names."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass

import asyncpg
import httpx

from admin.keys import issue

OWNER = "test-owner"


def till_name(store: str) -> str:
    return f"till-{store.lower()}"


@dataclass(frozen=True)
class ChainKeys:
    tills: dict[str, str]  # store -> its till's key
    owner: str

    def owner_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner}"}

    def till_headers(self, store: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tills[store]}"}


async def issue_chain_keys(connection: asyncpg.Connection, stores: list[str]) -> ChainKeys:
    """Keys for a till of each store and an owner of the chain (the stores must exist)."""
    tills = {store: await issue(connection, "till", till_name(store), store) for store in stores}
    return ChainKeys(tills, await issue(connection, "owner", OWNER, None))


def named_store(request: httpx.Request) -> str | None:
    """The store a sale or an upload names, read from its JSON body (not from a streamed one,
    which is sent as it comes)."""
    try:
        body = json.loads(request.content or b"null")
    except (ValueError, httpx.RequestNotRead):
        return None
    if isinstance(body, dict) and isinstance(body.get("purchases"), list) and body["purchases"]:
        body = body["purchases"][0]
    store = body.get("supermarket_id") if isinstance(body, dict) else None
    return store if isinstance(store, str) else None


class TillAuth(httpx.Auth):
    """Each request as the till of the store its body names (the first store's till else),
    unless the test set an Authorization header itself."""

    def __init__(self, keys: ChainKeys) -> None:
        self.keys = keys

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            store = named_store(request)
            key = self.keys.tills.get(store or "", next(iter(self.keys.tills.values())))
            request.headers["Authorization"] = f"Bearer {key}"
        yield request
