"""Who may read what: an owner's key reads the chain, a store manager's key one store.

A store manager who asks about another store gets 403; one who asks about the chain (no
`supermarket_id`) is answered about their own store, so every view works with either key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from db.access_keys import Credential
from httpkit.authentication import Forbidden, caller_of_kind


class NotAnOwner(Forbidden):
    """A till's key cannot read the figures; an owner's key does."""

    def __init__(self) -> None:
        super().__init__("a till's key records sales; the figures need an owner's key")


class NotThisManagersStore(Forbidden):
    """A store manager's key reads its own store only."""

    def __init__(self, owner: str, store: str) -> None:
        super().__init__(f"supermarket_id: {owner}'s key sees {store} only", supermarket_id=store)


Owner = Annotated[Credential, Depends(caller_of_kind("owner", NotAnOwner))]


def store_in_view(owner: Credential, asked: str | None) -> str | None:
    """The store a question is about: the one asked, the manager's own, or None (the chain)."""
    own = owner.supermarket_id
    if own is None:
        return asked
    if asked not in (None, own):
        raise NotThisManagersStore(owner.name, own)
    return own
